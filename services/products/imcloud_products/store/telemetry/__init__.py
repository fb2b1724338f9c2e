"""The time-series store: points, per-minute rollups and the twin's latest values.

A redelivered batch changes nothing: the batch ledger skips it whole (ledger),
and the natural key (series, time) keeps every point once, folded into the
rollups once; what record returns holds only the points stored now, so a resend
under a new sequence id is not scored again either. What PostgreSQL (binary
COPY, day partitions) and SQLite (plain inserts) do differently is one Dialect
object, chosen here; the rest is the same on both: series ids (series), the
twin's state (twins), retention (retention) and the reads (queries), over numpy
columns and rollup arithmetic (columns, rollups) that no SQL touches.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection

from imcloud_core.db import Database, is_postgresql
from imcloud_products.domain.events import ConnectivityChanged
from imcloud_products.domain.telemetry import (
    Aggregates,
    LinkChange,
    RecordedBatch,
    ReportedState,
)
from imcloud_products.store.telemetry import ledger, queries, twins
from imcloud_products.store.telemetry.columns import Columns, points_at
from imcloud_products.store.telemetry.dialect import DAY_MS, Dialect
from imcloud_products.store.telemetry.postgresql import PostgresqlDialect
from imcloud_products.store.telemetry.retention import apply_retention
from imcloud_products.store.telemetry.series import SeriesIds
from imcloud_products.store.telemetry.sqlite import SqliteDialect

__all__ = ["Columns", "SqlTelemetryStore", "TelemetryWrites"]


class SqlTelemetryStore:
    def __init__(self, db: Database, *, retention_days: int, rollup_retention_days: int) -> None:
        self._db = db
        self._dialect: Dialect = (
            PostgresqlDialect(db) if is_postgresql(db.engine) else SqliteDialect()
        )
        self._series = SeriesIds()
        self._retention_ms = retention_days * DAY_MS
        self._rollup_retention_ms = rollup_retention_days * DAY_MS

    # -- writing -----------------------------------------------------------------

    def transaction(self) -> AbstractContextManager[Connection]:
        """The transaction writes run in."""
        return self._series.transaction(self._db.engine)

    def writes(self, connection: Connection) -> TelemetryWrites:
        """The writes below, in this transaction (the domain's TelemetryWriter)."""
        return TelemetryWrites(self, connection)

    def record(self, connection: Connection, batches: list[RecordedBatch]) -> list[RecordedBatch]:
        """Stores the batches' points once each, in the caller's transaction.

        Returns the batches stored now, each cut down to the points new to the
        store: a batch recorded before (same machine, sequence id and content)
        is skipped whole, which is what redeliveries are; points stored before
        (a device resending them under a new sequence id, after a restart) are
        left out, and a batch with none left is not returned. So every point the
        caller gets back is one it has not seen before.
        """
        fresh = ledger.unrecorded(connection, batches) if batches else []
        if not fresh:
            return []
        stored = self._write(connection, fresh, update_twin=True)
        ledger.remember(connection, self._dialect.insert, fresh)
        twins.update_last_seen(connection, self._dialect.insert, fresh)
        return points_at(fresh, stored)

    def record_derived(self, connection: Connection, batches: list[RecordedBatch]) -> None:
        """Stores series the platform computed itself (anomaly scores), in the
        caller's transaction; each point once, like any other. The twin shows
        what the machine reported, so derived series leave it alone."""
        if batches:
            self._write(connection, batches, update_twin=False)

    def record_link_changes(self, connection: Connection, changes: list[LinkChange]) -> None:
        twins.record_link_changes(connection, self._dialect.insert, changes)

    def connectivity_changes(
        self, connection: Connection, *, now_ms: int, offline_after_ms: int
    ) -> list[ConnectivityChanged]:
        return twins.connectivity_changes(
            connection, now_ms=now_ms, offline_after_ms=offline_after_ms
        )

    def _write(
        self, connection: Connection, batches: list[RecordedBatch], *, update_twin: bool
    ) -> npt.NDArray[np.intp]:
        """Writes the points not stored before; returns their positions in ``batches``."""
        ids = self._series.resolve(
            connection,
            self._dialect.insert,
            [(b.tenant_id, b.equipment_id, s.signal) for b in batches for s in b.series],
        )
        columns = Columns(
            [
                np.full(len(s.values), ids[(b.tenant_id, b.equipment_id, s.signal)], np.int32)
                for b in batches
                for s in b.series
            ],
            batches,
        )
        stored = self._dialect.write_points(connection, columns)
        if update_twin and len(stored):
            twins.keep_newest(connection, self._dialect.insert, columns.take(stored))
        return stored

    # -- retention ---------------------------------------------------------------

    def apply_retention(self, now_ms: int) -> None:
        apply_retention(
            self._db,
            self._dialect,
            now_ms=now_ms,
            points_ms=self._retention_ms,
            rollups_ms=self._rollup_retention_ms,
        )

    # -- reading -----------------------------------------------------------------

    def twins(self, *, tenant_id: str, equipment_ids: Sequence[str]) -> dict[str, ReportedState]:
        with self._db.engine.connect() as connection:
            return queries.twins(connection, tenant_id=tenant_id, equipment_ids=equipment_ids)

    def points(
        self,
        *,
        tenant_id: str,
        equipment_id: str,
        signals: list[str],
        start_ms: int,
        end_ms: int,
        limit: int,
        after: tuple[str, int] | None,
    ) -> list[tuple[str, int, float, int]]:
        with self._db.engine.connect() as connection:
            return queries.points(
                connection,
                tenant_id=tenant_id,
                equipment_id=equipment_id,
                signals=signals,
                start_ms=start_ms,
                end_ms=end_ms,
                limit=limit,
                after=after,
            )

    def aggregates(
        self,
        *,
        tenant_id: str,
        equipment_id: str,
        signals: list[str],
        start_ms: int,
        end_ms: int,
        bucket_ms: int,
    ) -> list[Aggregates]:
        with self._db.engine.connect() as connection:
            return queries.aggregates(
                connection,
                tenant_id=tenant_id,
                equipment_id=equipment_id,
                signals=signals,
                start_ms=start_ms,
                end_ms=end_ms,
                bucket_ms=bucket_ms,
            )


class TelemetryWrites:
    """The store's writes bound to one transaction."""

    def __init__(self, store: SqlTelemetryStore, connection: Connection) -> None:
        self._store = store
        self._connection = connection

    def record(self, batches: list[RecordedBatch]) -> list[RecordedBatch]:
        return self._store.record(self._connection, batches)

    def record_derived(self, batches: list[RecordedBatch]) -> None:
        self._store.record_derived(self._connection, batches)

    def record_link_changes(self, changes: list[LinkChange]) -> None:
        self._store.record_link_changes(self._connection, changes)

    def connectivity_changes(
        self, *, now_ms: int, offline_after_ms: int
    ) -> list[ConnectivityChanged]:
        return self._store.connectivity_changes(
            self._connection, now_ms=now_ms, offline_after_ms=offline_after_ms
        )
