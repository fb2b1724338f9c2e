"""The rules of notification channels without storage: which events a channel
wants, which channels are refused, how long a failed delivery waits, when it is
given up; and what the webhook transport makes of a receiver's answers."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest

from imcloud_core.errors import InvalidArgument
from imcloud_servitization.clients.notifications import NotificationSender, signature
from imcloud_servitization.domain import webhooks
from imcloud_servitization.domain.ports import UnitOfWork
from imcloud_servitization.domain.webhooks import (
    Channel,
    ChannelKind,
    Delivery,
    DeliveryState,
    Outcome,
    Retry,
)
from imcloud_servitization.settings import NotificationSettings

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CHANNEL = Channel(
    id="channel-1",
    tenant_id="tenant-1",
    kind=ChannelKind.WEBHOOK,
    url="http://127.0.0.1:9/hook",
    email="",
    event_types=["alarm.*", "work_order.released"],
    description="",
    secret="whsec_test",
    create_time=NOW,
)
DELIVERY = Delivery(
    id="delivery-1",
    tenant_id="tenant-1",
    channel_id="channel-1",
    event_id="event-1",
    event_type="alarm.raised",
    body='{"id":"event-1"}',
    state=DeliveryState.PENDING,
    attempts=0,
    last_status_code=0,
    last_error="",
    next_attempt_time=NOW,
    create_time=NOW,
    update_time=NOW,
)


@pytest.mark.parametrize(
    ("event_type", "at", "wanted"),
    [
        ("alarm.raised", NOW, True),
        ("alarm.cleared", NOW + timedelta(hours=1), True),
        ("work_order.released", NOW, True),
        ("work_order.created", NOW, False),
        ("alarmist.raised", NOW, False),
        # Before the channel existed: history replayed to it is not sent.
        ("alarm.raised", NOW - timedelta(seconds=1), False),
    ],
)
def test_a_channel_wants_events_of_its_patterns_since_it_exists(
    event_type: str, at: datetime, wanted: bool
) -> None:
    assert CHANNEL.wants(event_type, at) is wanted


def created(**fields: Any) -> Channel:
    request = {"url": "", "email": "", "event_types": ["alarm.*"], "description": ""} | fields
    # Refused channels never reach the unit of work.
    return webhooks.create_channel(cast(UnitOfWork, None), tenant_id="tenant-1", now=NOW, **request)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "url"),
        ({"url": "https://a.example", "email": "a@example.com"}, "email"),
        ({"url": "ftp://a.example/x"}, "url"),
        ({"url": "https:///no-host"}, "url"),
        ({"email": "no-at-sign"}, "email"),
        ({"email": "ops@example.com\nBcc: all@example.com"}, "email"),
        ({"url": "https://a.example/\r\nX-Injected: 1"}, "url"),
        ({"url": "https://a.example", "event_types": ["alarm.*\n"]}, "event_types[0]"),
        ({"url": "https://a.example", "event_types": []}, "event_types"),
        ({"url": "https://a.example", "event_types": ["alarm.*", "Alarm.*"]}, "event_types[1]"),
        ({"url": "https://a.example", "event_types": ["tenant.*"]}, "event_types[0]"),
        ({"url": "https://a.example", "event_types": ["alarm"]}, "event_types[0]"),
    ],
)
def test_a_channel_is_refused_naming_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        created(**fields)
    assert [v.field for v in refused.value.violations] == [field]


def test_a_failed_delivery_waits_twice_as_long_each_time_then_is_given_up() -> None:
    retry = Retry(max_attempts=4, base_s=1, max_s=3)
    assert [retry.wait(n).total_seconds() for n in (1, 2, 3, 4)] == [1, 2, 3, 3]

    failed = Outcome(False, 500, "HTTP 500")
    first = webhooks.after_attempt(DELIVERY, failed, retry, NOW)
    assert (first.state, first.attempts, first.last_status_code) == (DeliveryState.PENDING, 1, 500)
    assert first.next_attempt_time == NOW + timedelta(seconds=1)
    delivered = webhooks.after_attempt(first, Outcome(True, 204), retry, NOW)
    assert (delivered.state, delivered.attempts, delivered.last_error) == (
        DeliveryState.DELIVERED,
        2,
        "",
    )
    assert delivered.next_attempt_time is None

    last = webhooks.after_attempt(replace(first, attempts=3), failed, retry, NOW)
    assert last.state is DeliveryState.DEAD_LETTER
    assert last.last_error == "HTTP 500 (gave up after 4 attempts)"
    assert last.next_attempt_time is None


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender that gave up has closed the connection a sleeper answers on."""


@pytest.fixture
def receiver() -> Iterator[str]:
    """Answers by path: /ok 200, /boom 500, /moved 302 to /ok, /slow after 2 s."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/slow":
                threading.Event().wait(2)
            status = {"/ok": 200, "/boom": 500, "/moved": 302}.get(self.path, 404)
            self.send_response(status)
            if status == 302:
                self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = QuietServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("path", "outcome"),
    [
        ("/ok", Outcome(True, 200)),
        ("/boom", Outcome(False, 500, "HTTP 500")),
        # Not followed: the POST would become a GET without the event.
        ("/moved", Outcome(False, 302, "HTTP 302")),
        ("/slow", Outcome(False, 0, "timed out after 0.5 s")),
    ],
)
def test_a_webhook_attempt_says_what_the_receiver_answered(
    receiver: str, path: str, outcome: Outcome
) -> None:
    sender = NotificationSender(NotificationSettings(send_timeout_s=0.5, allow_private_urls=True))
    assert sender.send(DELIVERY, replace(CHANNEL, url=receiver + path)) == outcome


def test_an_unreachable_receiver_or_mail_server_is_a_failed_attempt() -> None:
    sender = NotificationSender(NotificationSettings(send_timeout_s=0.5, allow_private_urls=True))
    refused = sender.send(DELIVERY, replace(CHANNEL, url="http://127.0.0.1:9/hook"))
    assert (refused.delivered, refused.error.startswith("could not connect")) == (False, True)
    mail = replace(CHANNEL, kind=ChannelKind.EMAIL, url="", email="ops@example.com")
    assert sender.send(DELIVERY, mail) == Outcome(False, 0, "no SMTP server configured")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/hook", "http://localhost/", "http://[::1]/", "http://10.1.2.3/"]
)
def test_a_webhook_to_an_internal_address_is_refused_unless_allowed(url: str) -> None:
    sender = NotificationSender(NotificationSettings(send_timeout_s=0.5))
    refused = sender.send(DELIVERY, replace(CHANNEL, url=url))
    assert not refused.delivered
    assert "is an internal address" in refused.error, refused
    assert "IMCLOUD_NOTIFICATIONS__ALLOW_PRIVATE_URLS" in refused.error


def test_the_signature_is_the_hmac_of_the_time_and_the_body() -> None:
    body = b'{"id":"event-1"}'
    mac = hmac.new(b"whsec_test", b"1764576000." + body, hashlib.sha256).hexdigest()
    assert signature("whsec_test", 1764576000, body) == f"t=1764576000,v1={mac}"
