"""Telemetry on PostgreSQL: points go in by binary COPY, into day partitions.

Each handler call streams all its points straight into the points table with
one binary COPY and folds them into the rollups. When some were stored before
(a device resent them under a new sequence id) or come twice in the call, the
COPY fails on the natural key; then the points go into a temporary table, each
(series, time) once, and one statement inserts the new ones (ON CONFLICT DO
NOTHING), folds exactly those and says which they were. A day's partition is
created when its first point arrives and dropped after retention.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from psycopg.errors import UniqueViolation
from sqlalchemy import Connection, func, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError, ProgrammingError

from imcloud_core.db import Database
from imcloud_core.logging import get_logger
from imcloud_products.store.telemetry.columns import Columns
from imcloud_products.store.telemetry.dialect import DAY_MS, Dialect
from imcloud_products.store.telemetry.rollups import minute_rollups

log = get_logger(__name__)


class PostgresqlDialect(Dialect):
    def __init__(self, db: Database) -> None:
        self.insert = postgresql.insert
        self.least, self.greatest = func.least, func.greatest
        self._db = db
        self._days_with_partition: set[int] = set()

    def write_points(self, connection: Connection, columns: Columns) -> npt.NDArray[np.intp]:
        if not len(columns):
            return np.empty(0, np.intp)
        self._ensure_partitions(columns.ts_ms)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            # The usual case: every point is new, and COPY puts them in place.
            with (
                connection.begin_nested(),
                cursor.copy("COPY telemetry_points FROM STDIN WITH (FORMAT BINARY)") as copy,
            ):
                copy.write(columns.copy_payload())
        except (IntegrityError, UniqueViolation):
            # Some points were stored before: keep the new ones only, and fold only those.
            return self._write_overlapping(connection, cursor, columns)
        self.fold_rollups(connection, minute_rollups(columns))
        return np.arange(len(columns))

    @staticmethod
    def _write_overlapping(
        connection: Connection, cursor: Any, columns: Columns
    ) -> npt.NDArray[np.intp]:
        # Each (series, time) staged once, its first point, so what comes back
        # as added says which of the call's points were stored now.
        firsts = columns.firsts()
        connection.exec_driver_sql(
            "CREATE TEMP TABLE IF NOT EXISTS staged_points "
            "(series_id int4, ts_ms int8, value float8, flags int2) ON COMMIT DELETE ROWS"
        )
        with cursor.copy("COPY staged_points FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.write(columns.take(firsts).copy_payload())
        added = connection.exec_driver_sql(
            """
            WITH added AS (
                INSERT INTO telemetry_points (series_id, ts_ms, value, flags)
                SELECT series_id, ts_ms, value, flags FROM staged_points
                ON CONFLICT DO NOTHING
                RETURNING series_id, ts_ms, value
            ), folded AS (
                INSERT INTO telemetry_rollups AS r (series_id, bucket_ms, min, max, sum, count)
                SELECT series_id, ts_ms / 60000 * 60000, min(value), max(value), sum(value),
                    count(*)
                FROM added GROUP BY 1, 2
                ON CONFLICT (series_id, bucket_ms) DO UPDATE SET
                    min = least(r.min, excluded.min), max = greatest(r.max, excluded.max),
                    sum = r.sum + excluded.sum, count = r.count + excluded.count
            )
            SELECT series_id, ts_ms FROM added
            """
        ).all()
        stored = {(int(row[0]), int(row[1])) for row in added}
        keys = zip(columns.series_id[firsts].tolist(), columns.ts_ms[firsts].tolist(), strict=True)
        new: npt.NDArray[np.intp] = firsts[np.array([key in stored for key in keys], dtype=bool)]
        return new

    def prepare(self, now_ms: int) -> None:
        self._ensure_partitions(np.arange(now_ms - DAY_MS, now_ms + 3 * DAY_MS, DAY_MS))

    def drop_points_before(self, connection: Connection, before_ms: int) -> None:
        """Drops the day partitions that end by then."""
        partitions = connection.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'telemetry_points'"
            )
        ).scalars()
        for name in partitions:
            day = datetime.strptime(name.removeprefix("telemetry_points_"), "%Y%m%d")
            day_end_ms = int(day.replace(tzinfo=UTC).timestamp() * 1000) + DAY_MS
            if day_end_ms <= before_ms:
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
                self._days_with_partition.discard(day_end_ms // DAY_MS - 1)
                log.info("dropped telemetry partition past retention", partition=name)

    def _ensure_partitions(self, ts_ms: npt.NDArray[np.int64]) -> None:
        """Creates the day partitions these points need, each in its own transaction.

        Creating a partition locks the whole points table, so it must not wait
        inside a long transaction; and only a committed partition is remembered.
        """
        for day in np.unique(ts_ms // DAY_MS).tolist():
            if day in self._days_with_partition:
                continue
            name = f"telemetry_points_{datetime.fromtimestamp(day * 86_400, UTC):%Y%m%d}"
            try:
                with self._db.engine.begin() as connection:
                    connection.exec_driver_sql(
                        f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF telemetry_points "
                        f"FOR VALUES FROM ({day * DAY_MS}) TO ({(day + 1) * DAY_MS})"
                    )
            except (IntegrityError, ProgrammingError):
                # Another replica created it between our check and our CREATE.
                log.info("partition created concurrently", partition=name)
            self._days_with_partition.add(day)
