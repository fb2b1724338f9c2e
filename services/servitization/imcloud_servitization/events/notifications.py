"""Webhooks and e-mail: the dispatcher that records a delivery for every event a
tenant's channels ask for, and the sender that works through due deliveries.

The dispatcher is generic: it reads the envelope's type, never its payload's
meaning, so any new event type (e.g. "alarm.raised") reaches the channels whose
patterns match. Sending happens on a small pool of threads apart from the Kafka
consumer, each attempt with its own timeout; a channel has at most
``PER_CHANNEL`` sends in flight, so one slow receiver never holds every worker.
"""

from __future__ import annotations

import heapq
import json
import threading
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import json_format

# The payload types the dispatcher turns into JSON: importing them registers them.
from imcloud.common.v1.events_pb2 import EventEnvelope
from imcloud.production.v1 import events_pb2 as _production_events  # noqa: F401
from imcloud.products.v1 import equipment_events_pb2 as _equipment_events  # noqa: F401
from imcloud.products.v1 import events_pb2 as _products_events  # noqa: F401
from imcloud.servitization.v1 import events_pb2 as _servitization_events  # noqa: F401
from imcloud.servitization.v1 import servitization_service_pb2 as _servitization  # noqa: F401
from imcloud_core.bus import Record
from imcloud_core.events import parse_envelope
from imcloud_core.ids import utcnow
from imcloud_core.logging import get_logger
from imcloud_core.waiting import wait_for_news
from imcloud_servitization.clients.notifications import NotificationSender
from imcloud_servitization.domain import webhooks
from imcloud_servitization.domain.ports import UnitOfWork
from imcloud_servitization.domain.webhooks import Channel, Delivery, DeliveryState, Retry
from imcloud_servitization.metrics import NOTIFICATION_ATTEMPTS, NOTIFICATION_DELIVERIES
from imcloud_servitization.settings import NotificationSettings

log = get_logger(__name__)

GROUP = "servitization.notifications"
# How often due deliveries are looked for when nothing woke the dispatcher: the
# deliveries this process records and a worker coming free wake it at once, so
# the poll only finds retries falling due and other replicas' leftovers.
SEND_EVERY_S = 2.0
# Sends in flight per channel, at most.
PER_CHANNEL = 2


def _payload(envelope: EventEnvelope) -> dict[str, Any]:
    try:
        found = json_format.MessageToDict(envelope.payload, preserving_proto_field_name=True)
    except (TypeError, KeyError, json_format.Error):
        # A payload type this process does not know: its name only.
        return {"@type": envelope.payload.type_url}
    found.pop("@type", None)
    return found


def event_body(envelope: EventEnvelope) -> str:
    """What a receiver gets: the envelope's facts and its payload as JSON."""
    return json.dumps(
        {
            "id": envelope.event_id,
            "type": envelope.type,
            "tenant_id": envelope.tenant_id,
            "occurred_at": _occurred_at(envelope).isoformat().replace("+00:00", "Z"),
            "data": _payload(envelope),
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def _occurred_at(envelope: EventEnvelope) -> datetime:
    return envelope.occurred_at.ToDatetime(tzinfo=UTC)


def dispatch_handler(
    unit_of_work: Callable[[], UnitOfWork], *, on_due: Callable[[], None]
) -> Callable[[Sequence[Record]], None]:
    def handle(batch: Sequence[Record]) -> None:
        for record in batch:
            envelope = parse_envelope(record.value)
            if not envelope.tenant_id or not envelope.event_id or not envelope.type:
                continue
            made = webhooks.record_event(
                unit_of_work(),
                tenant_id=envelope.tenant_id,
                event_id=envelope.event_id,
                event_type=envelope.type,
                occurred_at=_occurred_at(envelope),
                body=event_body(envelope),
                now=utcnow(),
            )
            if made:
                log.info("notifications due", event_id=envelope.event_id, deliveries=len(made))
                on_due()

    return handle


class NotificationDispatcher:
    """Sends due deliveries on a pool of threads; ``send_due`` never waits for them."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        settings: NotificationSettings,
        sender: NotificationSender | None = None,
    ) -> None:
        self._uow = unit_of_work
        self._settings = settings
        self._sender = sender or NotificationSender(settings)
        self._retry = Retry(
            max_attempts=settings.max_attempts,
            base_s=settings.backoff_base_s,
            max_s=settings.backoff_max_s,
        )
        # A delivery being sent is not due again before this (a crash mid-send
        # makes it due again then).
        self._lease = timedelta(seconds=settings.send_timeout_s * 3 + 30)
        self._pool = ThreadPoolExecutor(
            max_workers=settings.workers, thread_name_prefix="notifications"
        )
        self._lock = threading.Lock()
        self._in_flight: Tally[str] = Tally()
        self._due = threading.Event()
        # When the retries this process scheduled fall due, earliest first.
        self._retries: list[datetime] = []

    def wake(self) -> None:
        """Deliveries may be due now: look at once, not at the next poll."""
        self._due.set()

    def _retry_at(self, when: datetime) -> None:
        with self._lock:
            heapq.heappush(self._retries, when)

    def _idle_wait_s(self, looked_at: datetime) -> float:
        """Until the next retry falls due, or the poll's period if that is sooner;
        the retries due by ``looked_at``, when due deliveries were last claimed,
        were among them."""
        with self._lock:
            while self._retries and self._retries[0] <= looked_at:
                heapq.heappop(self._retries)
            if not self._retries:
                return SEND_EVERY_S
            until_retry = (self._retries[0] - utcnow()).total_seconds()
        return min(max(until_retry, 0.0), SEND_EVERY_S)

    def run(self, stopping: threading.Event) -> None:
        """The background loop: sends what is due until stopped, then lets go of the
        workers (a send under way still ends within its timeout)."""
        looked_at = utcnow()
        try:
            while not stopping.is_set():
                wait_for_news(self._due, stopping, self._idle_wait_s(looked_at))
                self._due.clear()
                if stopping.is_set():
                    break
                looked_at = utcnow()
                try:
                    self.send_due(looked_at)
                except Exception:
                    log.exception("notification deliveries failed; trying again later")
        finally:
            self.close()

    def send_due(self, now: datetime) -> int:
        """Claims what the free workers can take and hands it to them; how many."""
        with self._lock:
            free = self._settings.workers - sum(self._in_flight.values())
            in_flight = dict(self._in_flight)
        if free <= 0:
            return 0
        claimed = webhooks.claim_due(
            self._uow(),
            now=now,
            limit=free,
            lease=self._lease,
            per_channel=PER_CHANNEL,
            in_flight=in_flight,
        )
        for delivery, channel in claimed:
            with self._lock:
                self._in_flight[channel.id] += 1
            self._pool.submit(self._attempt, delivery, channel)
        return len(claimed)

    def _attempt(self, delivery: Delivery, channel: Channel) -> None:
        try:
            outcome = self._sender.send(delivery, channel)
            NOTIFICATION_ATTEMPTS.labels(
                channel.kind.value, "ok" if outcome.delivered else "failed"
            ).inc()
            updated = webhooks.record_attempt(
                self._uow(), delivery=delivery, outcome=outcome, retry=self._retry, now=utcnow()
            )
            if updated is None:
                return
            if updated.state is not DeliveryState.PENDING:
                NOTIFICATION_DELIVERIES.labels(updated.state.value).inc()
            if updated.state is DeliveryState.DEAD_LETTER:
                log.warning(
                    "notification dead-lettered",
                    tenant_id=updated.tenant_id,
                    delivery_id=updated.id,
                    channel_id=channel.id,
                    reason=updated.last_error,
                )
            elif updated.state is DeliveryState.PENDING:
                if updated.next_attempt_time is not None:
                    self._retry_at(updated.next_attempt_time)
                log.info(
                    "notification attempt failed; retrying",
                    tenant_id=updated.tenant_id,
                    delivery_id=updated.id,
                    channel_id=channel.id,
                    attempts=updated.attempts,
                    reason=updated.last_error,
                    next_attempt_time=str(updated.next_attempt_time),
                )
        except Exception:
            log.exception("notification attempt failed", delivery_id=delivery.id)
        finally:
            with self._lock:
                self._in_flight[channel.id] -= 1
                if self._in_flight[channel.id] <= 0:
                    del self._in_flight[channel.id]
            # A backlog can take the free worker.
            self.wake()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
