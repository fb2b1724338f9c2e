"""Transactional outbox: an event is written in the same transaction as the
change it reports, and a relay publishes it afterwards.

So a crash can never leave a change without its event or an event without its
change; at worst the relay publishes an event twice (consumers are idempotent).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    select,
    text,
)
from sqlalchemy.orm import Session

from imcloud.common.v1.events_pb2 import EventEnvelope
from imcloud_core.bus import EventBus, OutgoingRecord
from imcloud_core.db import Database, is_postgresql
from imcloud_core.logging import get_logger
from imcloud_core.waiting import wait_for_news

log = get_logger(__name__)

# Any fixed number works: it only has to be the same for every replica of a
# service (each service has its own database) so only one relay runs at a time.
_RELAY_LOCK_ID = 0x1A0C_0B0C
# How often an idle relay looks for events it was not told about.
RELAY_POLL_S = 2.0


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        # BigInteger on PostgreSQL; SQLite only auto-increments INTEGER keys.
        Column(
            "position",
            BigInteger().with_variant(Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        # Natural ids ("<machine>/<episode>/opened") make retries and replays dedupe.
        Column("event_id", String(200), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("envelope", LargeBinary, nullable=False),
    )


class Outbox:
    def __init__(self, table: Table) -> None:
        self.table = table
        self._pending = threading.Event()

    def add(
        self, session: Session | Connection, events: Sequence[tuple[str, str, EventEnvelope]]
    ) -> None:
        """Stages the events, each (topic, key, envelope), in the caller's
        transaction: one statement for them all."""
        if not events:
            return
        session.execute(
            self.table.insert(),
            [
                {
                    "event_id": envelope.event_id,
                    "topic": topic,
                    "key": key,
                    "envelope": envelope.SerializeToString(),
                }
                for topic, key, envelope in events
            ],
        )
        self._pending.set()

    def relay_once(self, db: Database, bus: EventBus, *, limit: int = 500) -> int:
        """Publishes the oldest staged events, then removes them; returns how many."""
        with db.transaction() as session:
            if is_postgresql(db.engine):
                locked = session.execute(
                    text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": _RELAY_LOCK_ID}
                ).scalar_one()
                if not locked:
                    return 0
            rows = session.execute(
                select(
                    self.table.c.position,
                    self.table.c.topic,
                    self.table.c.key,
                    self.table.c.envelope,
                )
                .order_by(self.table.c.position)
                .limit(limit)
            ).all()
            if not rows:
                return 0
            bus.publish([OutgoingRecord(r.topic, r.key, r.envelope) for r in rows])
            # By position, not by range: a lower position committed after our
            # SELECT is not among the rows and must stay for the next round.
            session.execute(
                delete(self.table).where(self.table.c.position.in_([r.position for r in rows]))
            )
        return len(rows)

    def run_relay(self, db: Database, bus: EventBus, stopping: threading.Event) -> None:
        """Relays until ``stopping`` is set; wakes at once when this process adds events."""
        while not stopping.is_set():
            self._pending.clear()
            try:
                relayed = self.relay_once(db, bus)
            except Exception:
                log.exception("outbox relay failed; retrying", table=self.table.name)
                stopping.wait(1.0)
                continue
            if relayed == 0:
                # Events staged by another replica that stopped before relaying
                # them are picked up by this poll.
                wait_for_news(self._pending, stopping, RELAY_POLL_S)
