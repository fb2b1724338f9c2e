"""Webhooks and e-mail: a tenant's notification channels and their delivery log.

A channel is a webhook (an http(s) URL, each POST signed with the channel's
secret) or an e-mail recipient, with envelope type patterns ("alarm.*",
"maintenance_ticket.opened"). Every event on the platform's topics whose tenant
has matching channels gets one delivery per (channel, event id): a record read
twice never makes a second one. A delivery is PENDING until an attempt succeeds
(DELIVERED) or it is given up (DEAD_LETTER): after the last attempt, or when its
channel is deleted. Failed attempts wait base * 2**(attempts - 1), capped.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from imcloud_core.errors import FieldViolation, InvalidArgument, NotFound
from imcloud_core.ids import new_id
from imcloud_core.paging import page_size
from imcloud_servitization.domain.ports import UnitOfWork

# The aggregates whose envelopes reach the dispatcher (the "<aggregate>." of
# their type): a pattern naming another is refused.
EVENT_AGGREGATES = frozenset(
    {
        # imcloud.equipment-events.v1
        "anomaly_episode",
        "equipment",
        # imcloud.maintenance.v1
        "maintenance_ticket",
        # imcloud.production-events.v1
        "work_order",
        "downtime",
        "schedule",
        "plant",
        "line",
        "station",
        # imcloud.orders.v1
        "order",
        # imcloud.servitization-events.v1
        "command",
        "fleet_job",
        "alarm",
    }
)
PATTERN = re.compile(r"^(\*|(?P<aggregate>[a-z][a-z0-9_]*)\.(\*|[a-z][a-z0-9_]*))$")
MAX_PATTERNS = 20
# As long as an event type may be (the delivery log's column).
PATTERN_MAX = 120
URL_MAX = 2000
DESCRIPTION_MAX = 500
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_MAX = 254


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class Channel:
    id: str
    tenant_id: str
    kind: ChannelKind
    url: str
    email: str
    event_types: list[str]
    description: str
    secret: str
    create_time: datetime

    def wants(self, event_type: str, occurred_at: datetime) -> bool:
        """An event of a matching type that happened once the channel existed (a
        record read late still counts; history replayed to a new group does not)."""
        if occurred_at < self.create_time:
            return False
        return any(matches(p, event_type) for p in self.event_types)


@dataclass(frozen=True)
class Delivery:
    id: str
    tenant_id: str
    channel_id: str
    event_id: str
    event_type: str
    # The event as the receiver gets it (JSON text).
    body: str
    state: DeliveryState
    attempts: int
    last_status_code: int
    last_error: str
    next_attempt_time: datetime | None
    create_time: datetime
    update_time: datetime


@dataclass(frozen=True)
class Retry:
    """How often and how patiently deliveries are attempted."""

    max_attempts: int = 8
    base_s: float = 1.0
    max_s: float = 300.0

    def wait(self, attempts: int) -> timedelta:
        """After ``attempts`` failed attempts."""
        return timedelta(seconds=min(self.max_s, self.base_s * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class Outcome:
    """One attempt: delivered, or why not."""

    delivered: bool
    status_code: int = 0
    error: str = ""


def matches(pattern: str, event_type: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def _invalid(field: str, reason: str) -> InvalidArgument:
    return InvalidArgument(
        "the notification channel is not valid", violations=(FieldViolation(field, reason),)
    )


def _checked_patterns(event_types: list[str]) -> list[str]:
    if not event_types:
        raise _invalid("event_types", "name at least one pattern, e.g. alarm.*")
    if len(event_types) > MAX_PATTERNS:
        raise _invalid("event_types", f"at most {MAX_PATTERNS} patterns")
    for n, pattern in enumerate(event_types):
        found = PATTERN.fullmatch(pattern) if len(pattern) <= PATTERN_MAX else None
        if found is None:
            raise _invalid(
                f"event_types[{n}]", "a pattern is <aggregate>.<event>, <aggregate>.* or *"
            )
        aggregate = found.group("aggregate")
        if aggregate is not None and aggregate not in EVENT_AGGREGATES:
            raise _invalid(
                f"event_types[{n}]",
                f"unknown event type {aggregate!r}; one of {', '.join(sorted(EVENT_AGGREGATES))}",
            )
    return list(dict.fromkeys(event_types))


def _checked_url(url: str) -> str:
    if len(url) > URL_MAX:
        raise _invalid("url", f"at most {URL_MAX} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise _invalid("url", "no spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise _invalid("url", "not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid("url", "an http or https URL with a host")
    return url


def create_channel(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    url: str,
    email: str,
    event_types: list[str],
    description: str,
    now: datetime,
) -> Channel:
    if bool(url) == bool(email):
        raise _invalid("url" if not url else "email", "give exactly one of url and email")
    if email and (len(email) > EMAIL_MAX or not EMAIL.fullmatch(email)):
        raise _invalid("email", "not an e-mail address")
    if len(description) > DESCRIPTION_MAX:
        raise _invalid("description", f"at most {DESCRIPTION_MAX} characters")
    channel = Channel(
        id=new_id(),
        tenant_id=tenant_id,
        kind=ChannelKind.WEBHOOK if url else ChannelKind.EMAIL,
        url=_checked_url(url) if url else "",
        email=email,
        event_types=_checked_patterns(event_types),
        description=description,
        secret="whsec_" + secrets.token_hex(24),
        create_time=now,
    )
    with uow:
        uow.notification_channels.add(channel)
    return channel


def get_channel(uow: UnitOfWork, *, tenant_id: str, channel_id: str) -> Channel:
    with uow:
        channel = uow.notification_channels.get(tenant_id=tenant_id, channel_id=channel_id)
    if channel is None:
        raise NotFound(f"notification channel {channel_id} not found")
    return channel


def list_channels(
    uow: UnitOfWork, *, tenant_id: str, requested_page_size: int, page_token: str
) -> tuple[list[Channel], str]:
    size = page_size(requested_page_size)
    with uow:
        return uow.notification_channels.list(
            tenant_id=tenant_id, page_size=size, page_token=page_token
        )


def delete_channel(uow: UnitOfWork, *, tenant_id: str, channel_id: str, now: datetime) -> int:
    """Removes the channel; its pending deliveries are dead-lettered (how many)."""
    with uow:
        if not uow.notification_channels.delete(tenant_id=tenant_id, channel_id=channel_id):
            raise NotFound(f"notification channel {channel_id} not found")
        return uow.notification_deliveries.give_up_pending(
            tenant_id=tenant_id, channel_id=channel_id, reason="channel deleted", now=now
        )


def list_deliveries(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    channel_id: str,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[Delivery], str]:
    size = page_size(requested_page_size)
    with uow:
        if uow.notification_channels.get(tenant_id=tenant_id, channel_id=channel_id) is None:
            raise NotFound(f"notification channel {channel_id} not found")
        return uow.notification_deliveries.list(
            tenant_id=tenant_id, channel_id=channel_id, page_size=size, page_token=page_token
        )


def record_event(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    body: str,
    now: datetime,
) -> list[Delivery]:
    """One pending delivery per matching channel; those the event already had stay
    as they are (a record read again adds nothing)."""
    made = []
    with uow:
        for channel in uow.notification_channels.for_tenant(tenant_id=tenant_id):
            if not channel.wants(event_type, occurred_at):
                continue
            delivery = Delivery(
                id=new_id(),
                tenant_id=tenant_id,
                channel_id=channel.id,
                event_id=event_id,
                event_type=event_type,
                body=body,
                state=DeliveryState.PENDING,
                attempts=0,
                last_status_code=0,
                last_error="",
                next_attempt_time=now,
                create_time=now,
                update_time=now,
            )
            if uow.notification_deliveries.add(delivery):
                made.append(delivery)
    return made


def claim_due(
    uow: UnitOfWork,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    per_channel: int,
    in_flight: Mapping[str, int] | None = None,
) -> list[tuple[Delivery, Channel]]:
    """At most ``limit`` due deliveries with their channels, at most ``per_channel``
    of a channel counting those ``in_flight``, each put off by ``lease`` so that
    no other round (or replica) sends it meanwhile; a channel gone dead-letters them."""
    sending = dict(in_flight or {})
    busy = {c for c, n in sending.items() if n >= per_channel}
    claimed: list[tuple[Delivery, Channel]] = []
    channels: dict[str, Channel | None] = {}
    with uow:
        for delivery in uow.notification_deliveries.due(
            now=now, limit=limit * 4, skip_channels=busy
        ):
            if len(claimed) >= limit:
                break
            if sending.get(delivery.channel_id, 0) >= per_channel:
                continue
            if delivery.channel_id not in channels:
                channels[delivery.channel_id] = uow.notification_channels.get(
                    tenant_id=delivery.tenant_id, channel_id=delivery.channel_id
                )
            channel = channels[delivery.channel_id]
            if channel is None:
                uow.notification_deliveries.save(
                    replace(
                        delivery,
                        state=DeliveryState.DEAD_LETTER,
                        last_error="channel deleted",
                        next_attempt_time=None,
                        update_time=now,
                    )
                )
                continue
            uow.notification_deliveries.save(replace(delivery, next_attempt_time=now + lease))
            sending[channel.id] = sending.get(channel.id, 0) + 1
            claimed.append((delivery, channel))
    return claimed


def after_attempt(delivery: Delivery, outcome: Outcome, retry: Retry, now: datetime) -> Delivery:
    """The delivery once an attempt had this outcome."""
    attempts = delivery.attempts + 1
    if outcome.delivered:
        return replace(
            delivery,
            state=DeliveryState.DELIVERED,
            attempts=attempts,
            last_status_code=outcome.status_code,
            last_error="",
            next_attempt_time=None,
            update_time=now,
        )
    if attempts >= retry.max_attempts:
        return replace(
            delivery,
            state=DeliveryState.DEAD_LETTER,
            attempts=attempts,
            last_status_code=outcome.status_code,
            last_error=f"{outcome.error} (gave up after {attempts} attempts)",
            next_attempt_time=None,
            update_time=now,
        )
    return replace(
        delivery,
        attempts=attempts,
        last_status_code=outcome.status_code,
        last_error=outcome.error,
        next_attempt_time=now + retry.wait(attempts),
        update_time=now,
    )


def record_attempt(
    uow: UnitOfWork, *, delivery: Delivery, outcome: Outcome, retry: Retry, now: datetime
) -> Delivery | None:
    """Stores the attempt; None when the delivery was given up meanwhile (its
    channel deleted)."""
    with uow:
        current = uow.notification_deliveries.get(
            tenant_id=delivery.tenant_id, delivery_id=delivery.id, for_update=True
        )
        if current is None or current.state is not DeliveryState.PENDING:
            return None
        updated = after_attempt(current, outcome, retry, now)
        uow.notification_deliveries.save(updated)
    return updated
