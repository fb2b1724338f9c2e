"""Series ids: a series is one signal of one machine, and points refer to it by
a small integer, created on first use and cached."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, select, tuple_

from imcloud_products.store.tables import telemetry_series
from imcloud_products.store.telemetry.dialect import Insert

SeriesKey = tuple[str, str, str]  # tenant, equipment, signal
# Where a transaction keeps the series ids it created until it commits.
_NEW_SERIES = "imcloud.new_series"


class SeriesIds:
    def __init__(self) -> None:
        self._known: dict[SeriesKey, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self, engine: Engine) -> Iterator[Connection]:
        """A transaction whose series ids are remembered only once it commits:
        a rolled-back id must not be reused."""
        with engine.begin() as connection:
            connection.info[_NEW_SERIES] = {}
            yield connection
            created = connection.info.pop(_NEW_SERIES)
        with self._lock:
            self._known.update(created)

    def resolve(
        self, connection: Connection, insert: Insert, keys: Iterable[SeriesKey]
    ) -> dict[SeriesKey, int]:
        """The series ids of these keys, creating the missing series."""
        wanted = set(keys)
        pending: dict[SeriesKey, int] = connection.info[_NEW_SERIES]
        with self._lock:
            known = {k: self._known[k] for k in wanted if k in self._known}
        known |= {k: pending[k] for k in wanted if k in pending}
        missing = wanted - known.keys()
        if missing:
            rows = [{"tenant_id": t, "equipment_id": e, "signal": s} for t, e, s in missing]
            connection.execute(insert(telemetry_series).on_conflict_do_nothing(), rows)
            c = telemetry_series.c
            found = connection.execute(
                select(c.id, c.tenant_id, c.equipment_id, c.signal).where(
                    tuple_(c.tenant_id, c.equipment_id, c.signal).in_(list(missing))
                )
            ).all()
            for row in found:
                key = (row.tenant_id, row.equipment_id, row.signal)
                pending[key] = known[key] = row.id
        return known
