"""Telemetry on SQLite (embedded mode): the same results with plain inserts."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import sqlite

from imcloud_products.store.tables import telemetry_points
from imcloud_products.store.telemetry.columns import Columns
from imcloud_products.store.telemetry.dialect import Dialect
from imcloud_products.store.telemetry.rollups import minute_rollups


class SqliteDialect(Dialect):
    def __init__(self) -> None:
        self.insert = sqlite.insert
        # SQLite's min() and max() with two arguments.
        self.least, self.greatest = func.min, func.max

    def write_points(self, connection: Connection, columns: Columns) -> npt.NDArray[np.intp]:
        # Drop points already stored (and repeats within this call), keep the rest.
        firsts = columns.firsts()
        if not len(firsts):
            return firsts
        sid, ts = columns.series_id[firsts], columns.ts_ms[firsts]
        stored = _stored_keys(connection, sid, ts)
        unseen = [(s, t) not in stored for s, t in zip(sid.tolist(), ts.tolist(), strict=True)]
        new: npt.NDArray[np.intp] = firsts[np.array(unseen, dtype=bool)]
        if len(new):
            kept = columns.take(new)
            connection.execute(telemetry_points.insert(), kept.rows())
            self.fold_rollups(connection, minute_rollups(kept))
        return new

    def prepare(self, now_ms: int) -> None:
        """One points table holds every day: nothing to ready."""

    def drop_points_before(self, connection: Connection, before_ms: int) -> None:
        connection.execute(telemetry_points.delete().where(telemetry_points.c.ts_ms < before_ms))


def _stored_keys(
    connection: Connection, sid: npt.NDArray[np.int32], ts: npt.NDArray[np.int64]
) -> set[tuple[int, int]]:
    stored: set[tuple[int, int]] = set()
    c = telemetry_points.c
    for series_id in np.unique(sid).tolist():
        mine = ts[sid == series_id]
        rows = connection.execute(
            select(c.series_id, c.ts_ms).where(
                c.series_id == series_id, c.ts_ms.between(int(mine.min()), int(mine.max()))
            )
        ).all()
        stored.update((int(r.series_id), int(r.ts_ms)) for r in rows)
    return stored
