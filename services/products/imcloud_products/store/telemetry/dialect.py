"""What PostgreSQL and SQLite do differently with telemetry, as one object per
database, chosen once when the store is made: how new points are written and
folded into the rollups, and how old points go."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Table

from imcloud_products.store.tables import telemetry_rollups
from imcloud_products.store.telemetry.columns import Columns
from imcloud_products.store.telemetry.rollups import MinuteRollups

DAY_MS = 86_400_000
Insert = Callable[[Table], Any]
"""The dialect's insert(), which takes ON CONFLICT clauses."""


class Dialect(ABC):
    insert: Insert
    # SQL's two-argument minimum and maximum.
    least: Callable[..., Any]
    greatest: Callable[..., Any]

    @abstractmethod
    def write_points(self, connection: Connection, columns: Columns) -> npt.NDArray[np.intp]:
        """Stores the points not stored before and folds them into the rollups;
        returns the positions (in ``columns``, ascending) of the points stored
        now: each (series, time) once, its first point in the call."""

    @abstractmethod
    def prepare(self, now_ms: int) -> None:
        """Readies the storage of the coming days' points."""

    @abstractmethod
    def drop_points_before(self, connection: Connection, before_ms: int) -> None: ...

    def fold_rollups(self, connection: Connection, rollups: MinuteRollups) -> None:
        """Adds per-minute summaries of new points to the rollups."""
        statement = self.insert(telemetry_rollups)
        r = telemetry_rollups.c
        statement = statement.on_conflict_do_update(
            index_elements=[r.series_id, r.bucket_ms],
            set_={
                "min": self.least(r.min, statement.excluded.min),
                "max": self.greatest(r.max, statement.excluded.max),
                "sum": r.sum + statement.excluded.sum,
                "count": r.count + statement.excluded.count,
            },
        )
        connection.execute(
            statement,
            [
                {"series_id": s, "bucket_ms": b, "min": lo, "max": hi, "sum": t, "count": n}
                for s, b, lo, hi, t, n in zip(
                    rollups.series_id.tolist(),
                    rollups.bucket_ms.tolist(),
                    rollups.low.tolist(),
                    rollups.high.tolist(),
                    rollups.total.tolist(),
                    rollups.count.tolist(),
                    strict=True,
                )
            ],
        )
