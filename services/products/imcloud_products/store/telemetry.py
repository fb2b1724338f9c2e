"""The time-series store: points, per-minute rollups and the twin's latest values.

PostgreSQL: each handler call streams all its points into a temporary table with
one binary COPY, then one statement inserts the new ones (ON CONFLICT DO
NOTHING on the natural key) and folds exactly those into the rollups, so a
redelivered batch changes nothing. Points are range-partitioned by day; a day's
partition is created when its first point arrives and dropped after retention.

SQLite (embedded mode): the same results with plain statements.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from psycopg.errors import UniqueViolation
from sqlalchemy import Connection, and_, func, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError, ProgrammingError

from imcloud_core.db import Database, conflict_insert, is_postgresql
from imcloud_core.logging import get_logger
from imcloud_products.domain.events import ConnectivityChanged
from imcloud_products.domain.telemetry import (
    ROLLUP_MS,
    Aggregates,
    LinkChange,
    RecordedBatch,
    ReportedValue,
)
from imcloud_products.store.tables import (
    telemetry_batches,
    telemetry_points,
    telemetry_rollups,
    telemetry_series,
    twin_signals,
    twins,
)

log = get_logger(__name__)

DAY_MS = 86_400_000
# Series the platform derives (anomaly scores) are not the machine's reported state.
DERIVED_PREFIX = "_"
# Where a transaction keeps the series ids it created until it commits.
_NEW_SERIES = "imcloud.new_series"
SeriesKey = tuple[str, str, str]  # tenant, equipment, signal

# One row of PostgreSQL's binary COPY format for (series_id int4, ts_ms int8,
# value float8, flags int2): a field count, then each field's length and value.
_COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("series_len", ">i4"), ("series_id", ">i4"),
        ("ts_len", ">i4"), ("ts_ms", ">i8"),
        ("value_len", ">i4"), ("value", ">f8"),
        ("flags_len", ">i4"), ("flags", ">i2"),
    ]
)  # fmt: skip
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)


class Columns:
    """All points of a handler call, column by column."""

    def __init__(self, series_ids: Sequence[npt.NDArray[np.int32]], batches: list[RecordedBatch]):
        parts = [s for b in batches for s in b.series]
        self.series_id: npt.NDArray[np.int32] = np.concatenate([*series_ids, np.empty(0, np.int32)])
        self.ts_ms: npt.NDArray[np.int64] = np.concatenate(
            [*(p.timestamps_ms for p in parts), np.empty(0, np.int64)]
        )
        self.value: npt.NDArray[np.float64] = np.concatenate(
            [*(p.values for p in parts), np.empty(0, np.float64)]
        )
        self.flags: npt.NDArray[np.int16] = np.concatenate(
            [*(p.flags for p in parts), np.empty(0, np.int16)]
        )

    def __len__(self) -> int:
        return len(self.series_id)

    def take(self, positions: npt.NDArray[np.intp]) -> Columns:
        taken = Columns([], [])
        taken.series_id = self.series_id[positions]
        taken.ts_ms = self.ts_ms[positions]
        taken.value = self.value[positions]
        taken.flags = self.flags[positions]
        return taken

    def copy_payload(self) -> bytes:
        rows = np.empty(len(self), dtype=_COPY_ROW)
        rows["fields"] = 4
        rows["series_len"], rows["ts_len"], rows["value_len"], rows["flags_len"] = 4, 8, 8, 2
        rows["series_id"] = self.series_id
        rows["ts_ms"] = self.ts_ms
        rows["value"] = self.value
        rows["flags"] = self.flags
        return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


def minute_rollups(
    columns: Columns,
) -> tuple[
    npt.NDArray[np.int32],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
]:
    """(series, minute, min, max, sum, count) of the points, per series and minute."""
    minute = columns.ts_ms // ROLLUP_MS * ROLLUP_MS
    order = np.lexsort((minute, columns.series_id))
    sid, minute, value = columns.series_id[order], minute[order], columns.value[order]
    starts = np.flatnonzero(
        np.concatenate([[True], (sid[1:] != sid[:-1]) | (minute[1:] != minute[:-1])])
    )
    counts = np.diff(np.append(starts, len(sid)))
    return (
        sid[starts],
        minute[starts],
        np.minimum.reduceat(value, starts),
        np.maximum.reduceat(value, starts),
        np.add.reduceat(value, starts),
        counts.astype(np.int64),
    )


def latest_points(
    columns: Columns,
) -> tuple[
    npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int16]
]:
    """Each series' newest point."""
    order = np.lexsort((columns.ts_ms, columns.series_id))
    sid = columns.series_id[order]
    last = order[np.concatenate([sid[1:] != sid[:-1], [True]])]
    return columns.series_id[last], columns.ts_ms[last], columns.value[last], columns.flags[last]


class SqlTelemetryStore:
    def __init__(self, db: Database, *, retention_days: int, rollup_retention_days: int) -> None:
        self._db = db
        self._postgres = is_postgresql(db.engine)
        self._insert = conflict_insert(db.engine)
        self._retention_ms = retention_days * DAY_MS
        self._rollup_retention_ms = rollup_retention_days * DAY_MS
        self._series_ids: dict[SeriesKey, int] = {}
        self._days_with_partition: set[int] = set()
        self._lock = threading.Lock()

    # -- writing -----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """The transaction writes run in. Series ids it creates are remembered
        only once it commits: a rolled-back id must not be reused."""
        with self._db.engine.begin() as connection:
            connection.info[_NEW_SERIES] = {}
            yield connection
            created = connection.info.pop(_NEW_SERIES)
        with self._lock:
            self._series_ids.update(created)

    def writes(self, connection: Connection) -> TelemetryWrites:
        """The writes below, in this transaction (the domain's TelemetryWriter)."""
        return TelemetryWrites(self, connection)

    def record(self, connection: Connection, batches: list[RecordedBatch]) -> list[RecordedBatch]:
        """Stores the batches' points once each, in the caller's transaction.

        Returns the batches stored now; a batch recorded before (same machine,
        sequence id and content) is skipped, which is what redeliveries are.
        """
        fresh = self._unrecorded(connection, batches) if batches else []
        if not fresh:
            return []
        self._write(connection, fresh, update_twin=True)
        connection.execute(
            self._insert(telemetry_batches).on_conflict_do_nothing(),
            [
                {
                    "equipment_id": b.equipment_id,
                    "sequence_id": b.sequence_id,
                    "fingerprint": b.fingerprint,
                    "receive_ms": b.receive_ms,
                }
                for b in fresh
            ],
        )
        self._update_last_seen(connection, fresh)
        return fresh

    def record_derived(self, connection: Connection, batches: list[RecordedBatch]) -> None:
        """Stores series the platform computed itself (anomaly scores), in the
        caller's transaction; each point once, like any other. The twin shows
        what the machine reported, so derived series leave it alone."""
        if batches:
            self._write(connection, batches, update_twin=False)

    def _write(
        self, connection: Connection, batches: list[RecordedBatch], *, update_twin: bool
    ) -> None:
        ids = self._resolve_series(
            connection, [(b.tenant_id, b.equipment_id, s.signal) for b in batches for s in b.series]
        )
        columns = Columns(
            [
                np.full(len(s.values), ids[(b.tenant_id, b.equipment_id, s.signal)], np.int32)
                for b in batches
                for s in b.series
            ],
            batches,
        )
        if self._postgres:
            recorded = self._record_postgres(connection, columns)
        else:
            recorded = self._record_sqlite(connection, columns)
        if update_twin and len(recorded):
            self._keep_latest(connection, *latest_points(recorded))

    def _unrecorded(
        self, connection: Connection, batches: list[RecordedBatch]
    ) -> list[RecordedBatch]:
        """The batches not recorded before, each once.

        A sequence id seen with other content is not a resend (a device that
        reused an id): those points go through, and the natural key still keeps
        every point once.
        """
        c = telemetry_batches.c
        known = {
            (row.equipment_id, row.sequence_id, row.fingerprint)
            for row in connection.execute(
                select(c.equipment_id, c.sequence_id, c.fingerprint).where(
                    tuple_(c.equipment_id, c.sequence_id).in_(
                        list({(b.equipment_id, b.sequence_id) for b in batches})
                    )
                )
            )
        }
        fresh = []
        for batch in batches:
            key = (batch.equipment_id, batch.sequence_id, batch.fingerprint)
            if key not in known:
                known.add(key)
                fresh.append(batch)
        return fresh

    def _resolve_series(
        self, connection: Connection, keys: Iterable[SeriesKey]
    ) -> dict[SeriesKey, int]:
        """The series ids of these keys, creating the missing series."""
        wanted = set(keys)
        pending: dict[SeriesKey, int] = connection.info[_NEW_SERIES]
        with self._lock:
            known = {k: self._series_ids[k] for k in wanted if k in self._series_ids}
        known |= {k: pending[k] for k in wanted if k in pending}
        missing = wanted - known.keys()
        if missing:
            rows = [{"tenant_id": t, "equipment_id": e, "signal": s} for t, e, s in missing]
            connection.execute(self._insert(telemetry_series).on_conflict_do_nothing(), rows)
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

    def _record_postgres(self, connection: Connection, columns: Columns) -> Columns:
        """Stores the new points; returns the points the twin may take its values from."""
        if not len(columns):
            return columns
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
            # Some points were stored before (a device resent them under a new
            # sequence id): keep the new ones only, and fold only those.
            self._record_postgres_overlapping(connection, cursor, columns)
            return columns
        self._fold_rollups(connection, *minute_rollups(columns))
        return columns

    def _record_postgres_overlapping(
        self, connection: Connection, cursor: Any, columns: Columns
    ) -> None:
        connection.exec_driver_sql(
            "CREATE TEMP TABLE IF NOT EXISTS staged_points "
            "(series_id int4, ts_ms int8, value float8, flags int2) ON COMMIT DELETE ROWS"
        )
        with cursor.copy("COPY staged_points FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.write(columns.copy_payload())
        connection.exec_driver_sql(
            """
            WITH added AS (
                INSERT INTO telemetry_points (series_id, ts_ms, value, flags)
                SELECT series_id, ts_ms, value, flags FROM staged_points
                ON CONFLICT DO NOTHING
                RETURNING series_id, ts_ms, value
            )
            INSERT INTO telemetry_rollups AS r (series_id, bucket_ms, min, max, sum, count)
            SELECT series_id, ts_ms / 60000 * 60000, min(value), max(value), sum(value), count(*)
            FROM added GROUP BY 1, 2
            ON CONFLICT (series_id, bucket_ms) DO UPDATE SET
                min = least(r.min, excluded.min), max = greatest(r.max, excluded.max),
                sum = r.sum + excluded.sum, count = r.count + excluded.count
            """
        )

    def _fold_rollups(
        self,
        connection: Connection,
        series_id: npt.NDArray[np.int32],
        bucket_ms: npt.NDArray[np.int64],
        low: npt.NDArray[np.float64],
        high: npt.NDArray[np.float64],
        total: npt.NDArray[np.float64],
        count: npt.NDArray[np.int64],
    ) -> None:
        """Adds per-minute summaries of new points to the rollups."""
        statement = self._insert(telemetry_rollups)
        r = telemetry_rollups.c
        least, greatest = (func.least, func.greatest) if self._postgres else (func.min, func.max)
        statement = statement.on_conflict_do_update(
            index_elements=[r.series_id, r.bucket_ms],
            set_={
                "min": least(r.min, statement.excluded.min),
                "max": greatest(r.max, statement.excluded.max),
                "sum": r.sum + statement.excluded.sum,
                "count": r.count + statement.excluded.count,
            },
        )
        connection.execute(
            statement,
            [
                {"series_id": s, "bucket_ms": b, "min": lo, "max": hi, "sum": t, "count": n}
                for s, b, lo, hi, t, n in zip(
                    series_id.tolist(),
                    bucket_ms.tolist(),
                    low.tolist(),
                    high.tolist(),
                    total.tolist(),
                    count.tolist(),
                    strict=True,
                )
            ],
        )

    def _keep_latest(
        self,
        connection: Connection,
        series_id: npt.NDArray[np.int32],
        ts_ms: npt.NDArray[np.int64],
        value: npt.NDArray[np.float64],
        flags: npt.NDArray[np.int16],
    ) -> None:
        """Makes each series' newest point its twin value, unless a newer one is there."""
        statement = self._insert(twin_signals)
        statement = statement.on_conflict_do_update(
            index_elements=[twin_signals.c.series_id],
            set_={
                "ts_ms": statement.excluded.ts_ms,
                "value": statement.excluded.value,
                "flags": statement.excluded.flags,
            },
            where=statement.excluded.ts_ms > twin_signals.c.ts_ms,
        )
        connection.execute(
            statement,
            [
                {"series_id": s, "ts_ms": t, "value": v, "flags": f}
                for s, t, v, f in zip(
                    series_id.tolist(), ts_ms.tolist(), value.tolist(), flags.tolist(), strict=True
                )
            ],
        )

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

    def _record_sqlite(self, connection: Connection, columns: Columns) -> Columns:
        """Stores the new points; returns them (the points the twin may take)."""
        if not len(columns):
            return columns
        # Drop points already stored (and repeats within this call), keep the rest.
        order = np.lexsort((columns.ts_ms, columns.series_id))
        sid, ts = columns.series_id[order], columns.ts_ms[order]
        first = np.ones(len(sid), dtype=bool)
        first[1:] = (sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])
        stored = self._stored_keys(connection, sid, ts)
        new = first & ~np.array(
            [(s, t) in stored for s, t in zip(sid.tolist(), ts.tolist(), strict=True)]
        )
        kept = columns.take(order[new])
        if not len(kept):
            return kept
        connection.execute(
            telemetry_points.insert(),
            [
                {"series_id": s, "ts_ms": t, "value": v, "flags": f}
                for s, t, v, f in zip(
                    kept.series_id.tolist(),
                    kept.ts_ms.tolist(),
                    kept.value.tolist(),
                    kept.flags.tolist(),
                    strict=True,
                )
            ],
        )
        self._fold_rollups(connection, *minute_rollups(kept))
        return kept

    @staticmethod
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

    def _update_last_seen(self, connection: Connection, batches: list[RecordedBatch]) -> None:
        seen: dict[tuple[str, str], int] = {}
        for batch in batches:
            key = (batch.tenant_id, batch.equipment_id)
            seen[key] = max(seen.get(key, 0), batch.receive_ms)
        self._upsert_twins(
            connection,
            [
                {
                    "tenant_id": t,
                    "equipment_id": e,
                    "last_seen_ms": ms,
                    "link_open": False,
                    "link_change_ms": 0,
                }
                for (t, e), ms in seen.items()
            ],
            update={"last_seen_ms": "last_seen_ms"},
            newer_than="last_seen_ms",
        )

    def record_link_changes(self, connection: Connection, changes: list[LinkChange]) -> None:
        if changes:
            self._upsert_twins(
                connection,
                [
                    {
                        "tenant_id": c.tenant_id,
                        "equipment_id": c.equipment_id,
                        "last_seen_ms": None,
                        "link_open": c.link_open,
                        "link_change_ms": c.change_ms,
                    }
                    for c in changes
                ],
                update={"link_open": "link_open", "link_change_ms": "link_change_ms"},
                newer_than="link_change_ms",
            )

    @staticmethod
    def connectivity_changes(
        connection: Connection, *, now_ms: int, offline_after_ms: int
    ) -> list[ConnectivityChanged]:
        """Marks machines that went offline or came back, and says which.

        A machine is offline when its device link is closed and it has not sent
        over HTTP since, or when it sends over HTTP only and fell silent.
        """
        t = twins.c
        heard_recently = (t.last_seen_ms > now_ms - offline_after_ms) & (
            t.last_seen_ms > t.link_change_ms
        )
        connected = t.link_open | heard_recently
        went = connection.execute(
            update(twins)
            .where(t.offline_since_ms.is_(None), ~connected, t.last_seen_ms.is_not(None))
            .values(offline_since_ms=now_ms)
            .returning(t.tenant_id, t.equipment_id, t.last_seen_ms)
        ).all()
        came = connection.execute(
            update(twins)
            .where(t.offline_since_ms.is_not(None), connected)
            .values(offline_since_ms=None)
            .returning(t.tenant_id, t.equipment_id, t.last_seen_ms)
        ).all()
        return [
            ConnectivityChanged(r.tenant_id, r.equipment_id, True, now_ms, r.last_seen_ms)
            for r in went
        ] + [
            ConnectivityChanged(r.tenant_id, r.equipment_id, False, now_ms, r.last_seen_ms)
            for r in came
        ]

    def _upsert_twins(
        self,
        connection: Connection,
        rows: list[dict[str, Any]],
        *,
        update: dict[str, str],
        newer_than: str,
    ) -> None:
        """Inserts twins, or updates the named columns where the row is newer.

        Comparing times makes a redelivered or late event unable to undo a newer one.
        """
        if not rows:
            return
        statement = self._insert(twins)
        current = twins.c[newer_than]
        statement = statement.on_conflict_do_update(
            index_elements=[twins.c.equipment_id],
            set_={column: statement.excluded[source] for column, source in update.items()},
            where=func.coalesce(current, -1) < statement.excluded[newer_than],
        )
        for row in sorted(rows, key=lambda r: r["equipment_id"]):  # stable lock order
            connection.execute(statement, row)

    # -- retention ---------------------------------------------------------------

    def apply_retention(self, now_ms: int) -> None:
        """Drops what is past retention, and readies the partitions of the next days."""
        if self._postgres:
            self._ensure_partitions(np.arange(now_ms - DAY_MS, now_ms + 3 * DAY_MS, DAY_MS))
        points_before = now_ms - self._retention_ms
        with self._db.engine.begin() as connection:
            if self._postgres:
                self._drop_old_partitions(connection, points_before)
            else:
                connection.execute(
                    telemetry_points.delete().where(telemetry_points.c.ts_ms < points_before)
                )
            connection.execute(
                telemetry_rollups.delete().where(
                    telemetry_rollups.c.bucket_ms < now_ms - self._rollup_retention_ms
                )
            )
            # Redeliveries come within hours; the ledger needs no longer memory than points.
            connection.execute(
                telemetry_batches.delete().where(telemetry_batches.c.receive_ms < points_before)
            )

    def _drop_old_partitions(self, connection: Connection, before_ms: int) -> None:
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

    # -- reading -----------------------------------------------------------------

    def _series_of(
        self, connection: Connection, tenant_id: str, equipment_id: str, signals: list[str]
    ) -> dict[int, str]:
        c = telemetry_series.c
        query = select(c.id, c.signal).where(
            c.tenant_id == tenant_id, c.equipment_id == equipment_id
        )
        if signals:
            query = query.where(c.signal.in_(signals))
        else:
            # All of the machine's signals; derived series only when asked for by name.
            query = query.where(~c.signal.startswith(DERIVED_PREFIX, autoescape=True))
        return {row.id: row.signal for row in connection.execute(query)}

    def twin(
        self, *, tenant_id: str, equipment_id: str
    ) -> tuple[list[ReportedValue], int | None, bool, int]:
        with self._db.engine.connect() as connection:
            series = self._series_of(connection, tenant_id, equipment_id, [])
            latest = connection.execute(
                select(twin_signals).where(twin_signals.c.series_id.in_(list(series)))
            ).all()
            state = connection.execute(
                select(twins).where(
                    twins.c.tenant_id == tenant_id, twins.c.equipment_id == equipment_id
                )
            ).first()
        reported = [
            ReportedValue(series[r.series_id], r.value, r.ts_ms, bool(r.flags & 1)) for r in latest
        ]
        if state is None:
            return reported, None, False, 0
        return reported, state.last_seen_ms, state.link_open, state.link_change_ms

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
            series = self._series_of(connection, tenant_id, equipment_id, signals)
            by_name = sorted(series.items(), key=lambda item: item[1])
            rows: list[tuple[str, int, float, int]] = []
            p = telemetry_points.c
            for series_id, signal in by_name:
                if after is not None and signal < after[0]:
                    continue
                since = after[1] + 1 if after is not None and signal == after[0] else start_ms
                found = connection.execute(
                    select(p.ts_ms, p.value, p.flags)
                    .where(p.series_id == series_id, p.ts_ms >= since, p.ts_ms < end_ms)
                    .order_by(p.ts_ms)
                    .limit(limit - len(rows))
                ).all()
                rows.extend((signal, r.ts_ms, r.value, r.flags) for r in found)
                if len(rows) >= limit:
                    break
        return rows

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
            series = self._series_of(connection, tenant_id, equipment_id, signals)
            if not series:
                return []
            summaries = Summaries(bucket_ms)
            if bucket_ms % ROLLUP_MS == 0:
                # Whole minutes from the rollups, the partial minutes at the ends from points.
                first_minute = -(-start_ms // ROLLUP_MS) * ROLLUP_MS
                last_minute = end_ms // ROLLUP_MS * ROLLUP_MS
                if first_minute < last_minute:
                    summaries.add(
                        self._from_rollups(connection, series, first_minute, last_minute, bucket_ms)
                    )
                    edges = [(start_ms, first_minute), (last_minute, end_ms)]
                else:
                    edges = [(start_ms, end_ms)]
            else:
                edges = [(start_ms, end_ms)]
            for low, high in edges:
                if low < high:
                    summaries.add(self._from_points(connection, series, low, high, bucket_ms))
        return summaries.result(series)

    @staticmethod
    def _from_points(
        connection: Connection, series: dict[int, str], low: int, high: int, bucket_ms: int
    ) -> list[Any]:
        p = telemetry_points.c
        start = (p.ts_ms // bucket_ms * bucket_ms).label("bucket")
        return list(
            connection.execute(
                select(
                    p.series_id,
                    start,
                    func.min(p.value),
                    func.max(p.value),
                    func.sum(p.value),
                    func.count(),
                )
                .where(p.series_id.in_(list(series)), and_(p.ts_ms >= low, p.ts_ms < high))
                .group_by(p.series_id, start)
            ).all()
        )

    @staticmethod
    def _from_rollups(
        connection: Connection, series: dict[int, str], low: int, high: int, bucket_ms: int
    ) -> list[Any]:
        r = telemetry_rollups.c
        start = (r.bucket_ms // bucket_ms * bucket_ms).label("bucket")
        return list(
            connection.execute(
                select(
                    r.series_id,
                    start,
                    func.min(r.min),
                    func.max(r.max),
                    func.sum(r.sum),
                    func.sum(r.count),
                )
                .where(r.series_id.in_(list(series)), r.bucket_ms >= low, r.bucket_ms < high)
                .group_by(r.series_id, start)
            ).all()
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


class Summaries:
    """Merges (series, bucket, min, max, sum, count) rows into buckets of one width."""

    def __init__(self, bucket_ms: int) -> None:
        self._width = bucket_ms
        self._parts: list[npt.NDArray[np.float64]] = []

    def add(self, rows: list[Any]) -> None:
        if rows:
            # float64 holds every series id and millisecond time exactly (< 2**53).
            self._parts.append(np.array(rows, dtype=np.float64).reshape(-1, 6))

    def result(self, series: dict[int, str]) -> list[Aggregates]:
        if not self._parts:
            return []
        rows = np.concatenate(self._parts)
        series_id = rows[:, 0].astype(np.int64)
        start = rows[:, 1].astype(np.int64) // self._width * self._width
        keys, inverse = np.unique(np.stack([series_id, start], axis=1), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        low = np.full(len(keys), np.inf)
        high = np.full(len(keys), -np.inf)
        np.minimum.at(low, inverse, rows[:, 2])
        np.maximum.at(high, inverse, rows[:, 3])
        total = np.bincount(inverse, weights=rows[:, 4], minlength=len(keys))
        count = np.bincount(inverse, weights=rows[:, 5], minlength=len(keys)).astype(np.int64)
        results = []
        for series_key in np.unique(keys[:, 0]).tolist():
            mine = keys[:, 0] == series_key
            results.append(
                Aggregates(
                    signal=series[series_key],
                    bucket_start_ms=keys[mine, 1].tolist(),
                    minimum=low[mine].tolist(),
                    maximum=high[mine].tolist(),
                    mean=(total[mine] / count[mine]).tolist(),
                    count=count[mine].tolist(),
                )
            )
        return sorted(results, key=lambda a: a.signal)
