"""One business transaction: its session, and the events it records.

Domain code records plain domain events; at commit each one becomes an outbox
row (via the service's translator) inside the same database transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from imcloud.common.v1.events_pb2 import EventEnvelope
from imcloud_core.db import Database
from imcloud_core.outbox import Outbox


@dataclass(frozen=True)
class OutboxEntry:
    topic: str
    key: str
    envelope: EventEnvelope


EventTranslator = Callable[[Any], OutboxEntry]


class StagedEvents:
    """The domain events of one transaction, written to the outbox as it commits."""

    def __init__(self, outbox: Outbox, translate: EventTranslator) -> None:
        self._outbox = outbox
        self._translate = translate
        self._events: list[object] = []

    def record(self, event: object) -> None:
        self._events.append(event)

    def stage(self, executor: Session | Connection) -> None:
        """Adds every recorded event to the outbox in ``executor``'s transaction."""
        entries = [self._translate(event) for event in self._events]
        self._outbox.add(executor, [(e.topic, e.key, e.envelope) for e in entries])
        self._events = []

    def forget(self) -> None:
        self._events = []


class SqlUnitOfWork:
    """One transaction. Entered again while open (a use case that runs another
    inside it), it stays the same transaction: the inner use case's work commits
    or rolls back with the outer one's."""

    def __init__(self, db: Database, outbox: Outbox, translate: EventTranslator) -> None:
        self._db = db
        self._staged = StagedEvents(outbox, translate)
        self._depth = 0
        self.session: Session

    def __enter__(self) -> Self:
        self._depth += 1
        if self._depth > 1:
            return self
        transaction = self._db.transaction()
        try:
            self.session = transaction.__enter__()
        except BaseException:
            self._depth = 0
            raise
        self._transaction = transaction
        self._staged.forget()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth:
            return
        if exc is None:
            self._staged.stage(self.session)
        self._transaction.__exit__(exc_type, exc, tb)

    def record(self, event: object) -> None:
        """Publishes ``event`` if, and only if, this transaction commits."""
        self._staged.record(event)
