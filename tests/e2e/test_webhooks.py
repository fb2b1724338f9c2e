"""Webhooks and e-mail, driven like a user: a tenant adds channels through the REST
API, causes events (plants, lines, maintenance tickets), and real receivers (an
HTTP server, an SMTP server) get each event once, signed, retried with backoff
after failures and dead-lettered, with the reason, when the receiver never answers.

Each platform runs with short backoff and timeouts, so retries take a second."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import FreshDatabases
from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform, distributed, embedded
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tests.support.world import onboard

SEND_TIMEOUT_S = 1
MAX_ATTEMPTS = 3
BACKOFF_BASE_S = 0.2


@dataclass
class Received:
    time: float
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


@dataclass
class Receiver:
    """A webhook receiver: ``answer(requests so far of this event)`` gives the status
    to send back (or sleeps)."""

    answer: Callable[[int], int]
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    def of(self, event_id: str) -> list[Received]:
        return [r for r in self.requests if r.headers["X-Imcloud-Event-Id"] == event_id]

    def event_ids(self) -> list[str]:
        return [r.event["id"] for r in self.requests if r.answered == 200]


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender that gave up has closed the connection a sleeper answers on."""


@contextmanager
def receiving(answer: Callable[[int], int]) -> Iterator[Receiver]:
    receiver = Receiver(answer)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrived = time.monotonic()
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                seen = len(receiver.of(self.headers["X-Imcloud-Event-Id"]))
            status = receiver.answer(seen)
            with lock:
                receiver.requests.append(Received(arrived, dict(self.headers), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = QuietServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/imcloud"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def verified(secret: str, received: Received) -> bool:
    """The receiver's check: the signature is the body's HMAC with the secret, recent."""
    parts = dict(p.split("=", 1) for p in received.headers["X-Imcloud-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(parts["v1"], expected) and abs(time.time() - int(parts["t"])) < 60


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"


@dataclass
class Smtp:
    port: int
    mailbox: Mailbox


@pytest.fixture(scope="module")
def smtp() -> Iterator[Smtp]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield Smtp(controller.port, mailbox)
    finally:
        controller.stop()


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def platform(
    request: pytest.FixtureRequest, smtp: Smtp, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPlatform]:
    env = {
        "IMCLOUD_NOTIFICATIONS__SEND_TIMEOUT_S": str(SEND_TIMEOUT_S),
        "IMCLOUD_NOTIFICATIONS__MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "IMCLOUD_NOTIFICATIONS__BACKOFF_BASE_S": str(BACKOFF_BASE_S),
        "IMCLOUD_NOTIFICATIONS__BACKOFF_MAX_S": "1",
        # The receivers run on this machine.
        "IMCLOUD_NOTIFICATIONS__ALLOW_PRIVATE_URLS": "true",
        "IMCLOUD_NOTIFICATIONS__SMTP_HOST": "127.0.0.1",
        "IMCLOUD_NOTIFICATIONS__SMTP_PORT": str(smtp.port),
        "IMCLOUD_NOTIFICATIONS__SMTP_FROM": "imcloud@example.com",
    }
    logs = tmp_path_factory.mktemp(f"webhooks-{request.param}")
    if request.param == "embedded":
        with embedded(logs, **env) as running:
            yield running
    else:
        kafka: str = request.getfixturevalue("kafka_bootstrap")
        databases: FreshDatabases = request.getfixturevalue("session_postgres")
        with distributed(kafka, databases.create, logs, **env) as running:
            yield running


def created(tenant: Tenant, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = tenant.post(path, body)
    assert response.status_code == 201, f"{path}: {response.text}"
    answer: dict[str, Any] = response.json()
    return answer


def deliveries(tenant: Tenant, channel_id: str) -> list[dict[str, Any]]:
    response = tenant.get(f"/v1/webhooks/{channel_id}/deliveries", page_size=500)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def settled(tenant: Tenant, channel_id: str, count: int) -> list[dict[str, Any]]:
    """The channel's delivery log once it holds ``count`` deliveries, none pending."""

    def done() -> list[dict[str, Any]] | None:
        log = deliveries(tenant, channel_id)
        if len(log) >= count and all(d["state"] != "pending" for d in log):
            return log
        return None

    return wait_for(done, timeout_s=30, interval_s=0.2, what=f"{count} deliveries settled")


def plant_events(tenant: Tenant) -> dict[str, str]:
    """Causes plant and line events: the types each plant's or line's id had."""
    first = created(tenant, "/v1/plants", {"name": "North", "time_zone": "Europe/Berlin"})
    second = created(tenant, "/v1/plants", {"name": "South", "time_zone": "Europe/Berlin"})
    renamed = tenant.http.patch(f"/v1/plants/{first['id']}", json={"name": "North 2"})
    assert renamed.status_code == 200, renamed.text
    line = created(tenant, "/v1/lines", {"plant_id": first["id"], "name": "Line 1"})
    moved = tenant.http.patch(f"/v1/lines/{line['id']}", json={"name": "Line 1a"})
    assert moved.status_code == 200, moved.text
    return {"first": first["id"], "second": second["id"], "line": line["id"]}


def test_a_webhook_gets_each_event_once_signed_and_a_failing_one_on_the_third_try(
    platform: RunningPlatform,
) -> None:
    tenant = sign_up(platform.base_url, f"Hooks {uuid.uuid4().hex[:6]}")
    with (
        receiving(lambda seen: 200) as steady,
        receiving(lambda seen: 500 if seen < 2 else 200) as flaky,
    ):
        steady_channel = created(
            tenant,
            "/v1/webhooks",
            {"url": steady.url, "event_types": ["plant.*", "line.created"]},
        )
        flaky_channel = created(
            tenant, "/v1/webhooks", {"url": flaky.url, "event_types": ["plant.*"]}
        )
        for channel in (steady_channel, flaky_channel):
            assert channel["kind"] == "webhook"
            assert channel["secret"].startswith("whsec_")
        ids = plant_events(tenant)

        steady_log = settled(tenant, steady_channel["id"], 4)
        flaky_log = settled(tenant, flaky_channel["id"], 3)
        # The steady receiver: every matching event once (line.updated matches no
        # pattern), each signed with its channel's secret.
        wanted = {
            ("plant.created", ids["first"]),
            ("plant.created", ids["second"]),
            ("plant.updated", ids["first"]),
            ("line.created", ids["line"]),
        }
        got = {
            (r.event["type"], next(iter(r.event["data"].values()))["id"]) for r in steady.requests
        }
        assert got == wanted
        assert len(steady.requests) == 4
        assert sorted(steady.event_ids()) == sorted(d["event_id"] for d in steady_log)
        assert {d["state"] for d in steady_log} == {"delivered"}
        assert {d["attempts"] for d in steady_log} == {1}
        for received in steady.requests + flaky.requests:
            secret = (steady_channel if received in steady.requests else flaky_channel)["secret"]
            assert verified(secret, received), received.headers
            assert received.event["tenant_id"] == tenant.id
            assert received.headers["X-Imcloud-Event-Type"] == received.event["type"]
        assert not verified(flaky_channel["secret"], steady.requests[0])

        # The flaky receiver: 500, 500, then 200, with a growing wait between.
        assert [d["state"] for d in flaky_log] == ["delivered"] * 3
        assert [(d["attempts"], d["last_status_code"]) for d in flaky_log] == [(3, 200)] * 3
        for delivery in flaky_log:
            tries = flaky.of(delivery["event_id"])
            assert [r.answered for r in tries] == [500, 500, 200]
            assert len({r.body for r in tries}) == 1
            first_wait, second_wait = (b.time - a.time for a, b in itertools.pairwise(tries))
            assert first_wait >= BACKOFF_BASE_S * 0.9
            assert second_wait >= 2 * BACKOFF_BASE_S * 0.9

        # Nothing arrives twice later on.
        time.sleep(1)
        assert len(steady.requests) == 4
        assert len(flaky.requests) == 9


def test_a_receiver_that_never_answers_ends_in_dead_letter_with_the_reason(
    platform: RunningPlatform,
) -> None:
    tenant = sign_up(platform.base_url, f"Silent {uuid.uuid4().hex[:6]}")

    def never(seen: int) -> int:
        time.sleep(SEND_TIMEOUT_S + 0.5)
        return 200

    with receiving(never) as silent:
        channel = created(tenant, "/v1/webhooks", {"url": silent.url, "event_types": ["plant.*"]})
        plant = created(tenant, "/v1/plants", {"name": "Quiet", "time_zone": "UTC"})
        [delivery] = settled(tenant, channel["id"], 1)
        assert delivery["state"] == "dead_letter", delivery
        assert delivery["attempts"] == MAX_ATTEMPTS
        assert delivery["last_status_code"] == 0
        assert f"timed out after {SEND_TIMEOUT_S} s" in delivery["last_error"]
        assert f"gave up after {MAX_ATTEMPTS} attempts" in delivery["last_error"]
        assert delivery["next_attempt_time"] is None
        assert delivery["event_type"] == "plant.created"
        wait_for(lambda: len(silent.requests) == MAX_ATTEMPTS, timeout_s=10, what="the sleepers")
        assert {r.event["data"]["plant"]["id"] for r in silent.requests} == {plant["id"]}

    # Removed, the channel and its log are gone.
    assert tenant.http.delete(f"/v1/webhooks/{channel['id']}").status_code == 204
    assert tenant.get(f"/v1/webhooks/{channel['id']}").status_code == 404
    assert tenant.get(f"/v1/webhooks/{channel['id']}/deliveries").status_code == 404


def test_an_email_channel_gets_a_mail_per_event(platform: RunningPlatform, smtp: Smtp) -> None:
    world = onboard(platform.base_url, "Mail", machines=1)
    tenant = world.tenant
    address = f"ops-{uuid.uuid4().hex[:6]}@example.com"
    channel = created(
        tenant, "/v1/webhooks", {"email": address, "event_types": ["maintenance_ticket.*"]}
    )
    assert (channel["kind"], channel["email"], channel["url"]) == ("email", address, "")
    ticket = created(
        tenant,
        "/v1/maintenance-tickets",
        {"equipment_id": world.ids["equipment_id"], "title": "Spindle runs hot"},
    )
    note = tenant.post(f"/v1/maintenance-tickets/{ticket['id']}/notes", {"text": "Bearing?"})
    assert note.status_code == 201, note.text

    log = settled(tenant, channel["id"], 2)
    assert [(d["event_type"], d["state"]) for d in log] == [
        ("maintenance_ticket.opened", "delivered"),
        ("maintenance_ticket.note_added", "delivered"),
    ]
    mails = [
        message_from_bytes(m, policy=policy.default)
        for to, m in smtp.mailbox.messages
        if to == [address]
    ]
    assert sorted(m["X-Imcloud-Event-Id"] for m in mails) == sorted(d["event_id"] for d in log)
    assert {m["Subject"] for m in mails} == {
        "[imcloud] maintenance_ticket.opened",
        "[imcloud] maintenance_ticket.note_added",
    }
    texts = [m.get_content() for m in mails]  # type: ignore[attr-defined]
    assert all(m["From"] == "imcloud@example.com" for m in mails)
    assert all(ticket["id"] in text for text in texts), texts
    # The ticket opened at onboarding came before the channel: not mailed.
    assert not any(world.ids["ticket_id"] in text for text in texts)


def test_channels_are_checked_listed_and_the_tenants_own(platform: RunningPlatform) -> None:
    base = platform.base_url
    tenant, other = sign_up(base, "Checked"), sign_up(base, "Other")
    refused = {
        "url": {"url": "ftp://example.com/x", "event_types": ["alarm.*"]},
        "event_types[1]": {"url": "https://example.com", "event_types": ["alarm.*", "bogus.*"]},
        "email": {"email": "not-an-address", "event_types": ["alarm.*"]},
    }
    for name, body in refused.items():
        answer = tenant.post("/v1/webhooks", body)
        assert answer.status_code == 422, answer.text
        assert [d["field"] for d in answer.json()["error"]["details"]] == [name], answer.text
    both = tenant.post(
        "/v1/webhooks",
        {"url": "https://example.com", "email": "a@example.com", "event_types": ["*"]},
    )
    assert both.status_code == 422, both.text

    made = [
        created(tenant, "/v1/webhooks", {"url": f"https://example.com/{n}", "event_types": ["*"]})
        for n in range(3)
    ]
    first = tenant.get("/v1/webhooks", page_size=2).json()
    rest = tenant.get("/v1/webhooks", page_size=2, page_token=first["next_page_token"]).json()
    listed = first["items"] + rest["items"]
    assert [c["id"] for c in listed] == [c["id"] for c in made]
    assert rest["next_page_token"] == ""
    # The secret is shown once: at the creation.
    assert all(c["secret"] is None for c in listed)
    assert tenant.get(f"/v1/webhooks/{made[0]['id']}").json()["secret"] is None

    theirs = made[0]["id"]
    assert other.get(f"/v1/webhooks/{theirs}").status_code == 404
    assert other.get(f"/v1/webhooks/{theirs}/deliveries").status_code == 404
    assert other.http.delete(f"/v1/webhooks/{theirs}").status_code == 404
    assert other.get("/v1/webhooks").json()["items"] == []
    assert tenant.get(f"/v1/webhooks/{uuid.uuid4()}").status_code == 404
    assert tenant.get(f"/v1/webhooks/{theirs}").status_code == 200
