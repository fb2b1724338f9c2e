"""The production service's real store on a real database, for its tests.

Unit tests use it on a SQLite file; the integration tests use it on PostgreSQL too.
"""

from __future__ import annotations

from sqlalchemy import select

from imcloud.common.v1.events_pb2 import EventEnvelope
from imcloud_core.db import Database, create_database_engine
from imcloud_core.errors import Unavailable
from imcloud_core.events import parse_envelope
from imcloud_core.migrations import upgrade_to_head
from imcloud_production.domain.ports import AppliedRecipe
from imcloud_production.module import PACKAGE, unit_of_work
from imcloud_production.store.tables import outbox


class ProductionStore:
    """A migrated production database, its units of work, and its outbox."""

    def __init__(self, url: str) -> None:
        engine = create_database_engine(url, setting="test")
        upgrade_to_head(engine, package=PACKAGE)
        self.db = Database(engine)
        self.unit_of_work = unit_of_work(self.db)

    def outbox_rows(self) -> list[tuple[str, str, EventEnvelope]]:
        """(topic, key, envelope) of every staged event, oldest first."""
        with self.db.read() as session:
            rows = session.execute(
                select(outbox.c.topic, outbox.c.key, outbox.c.envelope).order_by(outbox.c.position)
            ).all()
        return [(r.topic, r.key, parse_envelope(r.envelope)) for r in rows]

    def event_types(self) -> list[str]:
        return [envelope.type for _, _, envelope in self.outbox_rows()]

    def close(self) -> None:
        self.db.close()


class FakeMachines:
    """The products service's side of recipes: each machine's desired version goes
    up with every recipe given; ``down`` makes it unreachable."""

    def __init__(self) -> None:
        self.recipes: dict[str, list[str]] = {}
        self.applied: dict[str, int] = {}
        self.down = False

    def apply(self, *, tenant_id: str, equipment_id: str, recipe_json: str) -> AppliedRecipe:
        if self.down:
            raise Unavailable("products is not reachable")
        self.recipes.setdefault(equipment_id, []).append(recipe_json)
        return AppliedRecipe(
            desired_version=len(self.recipes[equipment_id]),
            applied_version=self.applied.get(equipment_id, 0),
        )
