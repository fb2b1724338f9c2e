"""What both bus backends do with a polled batch: hand it to the handler, retry
what failed, and dead-letter what can never succeed.

One tenant's bad record must not stop everybody else's: a batch that keeps
failing for a reason of its own (not an outage) is retried a bounded number of
times, then record by record; a record that still fails alone goes to
``<topic>.dlq`` with the reason, and the partition moves on. A failure of the
infrastructure (database or broker unreachable) is retried for as long as it
lasts: dead-lettering then would only move good records aside.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from imcloud.common.v1.events_pb2 import DeadLetter
from imcloud_core.bus import BatchHandler, OutgoingRecord, Record
from imcloud_core.failures import is_transient
from imcloud_core.logging import get_logger
from imcloud_core.metrics import BUS_DEAD_LETTERS, BUS_HANDLER_FAILURES, BUS_HANDLER_SECONDS

log = get_logger(__name__)

RETRY_BACKOFF_S = (0.05, 0.2, 1.0, 2.0, 5.0)
# Failed tries of a batch, and then of each of its records alone, before the
# records that still fail are dead-lettered.
ATTEMPTS = 3
DEAD_LETTER_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    return topic + DEAD_LETTER_SUFFIX


class Delivery:
    """Hands batches of one consumer-group member to its handler."""

    def __init__(
        self,
        *,
        group: str,
        handler: BatchHandler,
        publish: Callable[[Sequence[OutgoingRecord]], None],
        stopping: threading.Event,
        attempts: int = ATTEMPTS,
    ) -> None:
        self.group = group
        self._handler = handler
        self._publish = publish
        self._stopping = stopping
        self._attempts = attempts
        self._failures = 0

    def deliver(self, batch: Sequence[Record]) -> bool:
        """True when the batch is finished (handled, its poison dead-lettered) and
        may be committed; False when it must be delivered again (after a pause)."""
        error = self._try(batch)
        if error is None:
            self._failures = 0
            return True
        self._failures += 1
        if is_transient(error) or self._failures < self._attempts:
            self._pause(error, records=len(batch))
            return False
        finished = self._one_by_one(batch)
        if finished:
            self._failures = 0
        return finished

    def _one_by_one(self, batch: Sequence[Record]) -> bool:
        """Each record alone, so the good ones get through and only the poison is set aside."""
        for record in batch:
            for attempt in range(1, self._attempts + 1):
                error = self._try([record])
                if error is None:
                    break
                if is_transient(error):
                    self._pause(error, records=1)
                    return False  # an outage after all: try everything again later
                if attempt == self._attempts:
                    try:
                        self._dead_letter(record, error, attempts=attempt)
                    except Exception as unpublished:  # the broker is away: try again later
                        self._pause(unpublished, records=1)
                        return False
                elif self._stopping.wait(RETRY_BACKOFF_S[attempt - 1]):
                    return False
        return True

    def _try(self, batch: Sequence[Record]) -> Exception | None:
        try:
            with BUS_HANDLER_SECONDS.labels(self.group).time():
                self._handler(batch)
        except Exception as error:
            BUS_HANDLER_FAILURES.labels(self.group).inc()
            return error
        return None

    def _pause(self, error: Exception, *, records: int) -> None:
        backoff = RETRY_BACKOFF_S[min(self._failures, len(RETRY_BACKOFF_S)) - 1]
        log.warning(
            "event handler failed; the records will be delivered again",
            group=self.group,
            records=records,
            retry_in_s=backoff,
            transient=is_transient(error),
            error=_reason(error),
            exc_info=error,
        )
        self._stopping.wait(backoff)

    def _dead_letter(self, record: Record, error: Exception, *, attempts: int) -> None:
        letter = DeadLetter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            group=self.group,
            reason=_reason(error),
            attempts=attempts,
        )
        letter.dead_lettered_at.FromDatetime(datetime.now(UTC))
        topic = dead_letter_topic(record.topic)
        self._publish(
            [OutgoingRecord(topic=topic, key=record.key, value=letter.SerializeToString())]
        )
        BUS_DEAD_LETTERS.labels(record.topic, self.group).inc()
        log.error(
            "record dead-lettered: the handler cannot handle it; the partition moves on",
            group=self.group,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            dead_letter_topic=topic,
            reason=letter.reason,
        )


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:2000]
