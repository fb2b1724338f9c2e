"""Outbound notification transports: signed webhook POSTs (urllib) and e-mail
(smtplib). Each attempt answers an Outcome and never raises."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import smtplib
import socket
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from urllib.parse import urlsplit

from imcloud_servitization.domain.webhooks import Channel, ChannelKind, Delivery, Outcome
from imcloud_servitization.settings import NotificationSettings

USER_AGENT = "imcloud-webhooks/1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` (as Stripe signs)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other not 2xx: followed, the POST would turn
    into a GET without the event (and could aim at what the URL check refused)."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def _inside(url: str) -> str:
    """Why the URL's host is refused: it is (or resolves to) a loopback, private,
    link-local or otherwise internal address; empty if every address is public."""
    host = urlsplit(url).hostname or ""
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        return f"could not resolve {host}: {exc}"
    for *_, address in found:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            return (
                f"{host} is an internal address ({ip}); "
                "IMCLOUD_NOTIFICATIONS__ALLOW_PRIVATE_URLS=true allows it"
            )
    return ""


def _timeout(timeout_s: float) -> str:
    return f"timed out after {timeout_s:g} s"


class NotificationSender:
    def __init__(self, settings: NotificationSettings) -> None:
        self._settings = settings

    def send(self, delivery: Delivery, channel: Channel) -> Outcome:
        if channel.kind is ChannelKind.EMAIL:
            return self._mail(delivery, channel)
        return self._post(delivery, channel)

    def _post(self, delivery: Delivery, channel: Channel) -> Outcome:
        if not self._settings.allow_private_urls and (refused := _inside(channel.url)):
            return Outcome(False, 0, refused)
        body = delivery.body.encode()
        timeout_s = self._settings.send_timeout_s
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked at creation
            channel.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-Imcloud-Event-Id": delivery.event_id,
                "X-Imcloud-Event-Type": delivery.event_type,
                "X-Imcloud-Signature": signature(channel.secret, int(time.time()), body),
            },
        )
        try:
            with _OPENER.open(request, timeout=timeout_s) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            return Outcome(False, exc.code, f"HTTP {exc.code}")
        except TimeoutError:
            return Outcome(False, 0, _timeout(timeout_s))
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                return Outcome(False, 0, _timeout(timeout_s))
            return Outcome(False, 0, f"could not connect: {exc.reason}")
        except (OSError, ValueError) as exc:
            return Outcome(False, 0, f"could not send: {exc}")
        if 200 <= status < 300:
            return Outcome(True, status)
        return Outcome(False, status, f"HTTP {status}")

    def _mail(self, delivery: Delivery, channel: Channel) -> Outcome:
        s = self._settings
        if not s.smtp_host:
            return Outcome(False, 0, "no SMTP server configured")
        message = EmailMessage()
        message["From"] = s.smtp_from
        message["To"] = channel.email
        message["Subject"] = f"[imcloud] {delivery.event_type}"
        message["X-Imcloud-Event-Id"] = delivery.event_id
        message["X-Imcloud-Event-Type"] = delivery.event_type
        readable = json.dumps(json.loads(delivery.body), indent=2, sort_keys=True)
        message.set_content(f"imcloud event {delivery.event_type}\n\n{readable}\n")
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.send_timeout_s) as smtp:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password.get_secret_value())
                smtp.send_message(message)
        except TimeoutError:
            return Outcome(False, 0, _timeout(s.send_timeout_s))
        except smtplib.SMTPResponseException as exc:
            return Outcome(False, 0, f"SMTP {exc.smtp_code}")
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            return Outcome(False, 0, f"SMTP failed: {exc}")
        return Outcome(True)
