"""The time-series store on PostgreSQL and SQLite: exactly-once points, exact
rollups and aggregates, the twin's latest values, retention."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import func, select

from imcloud_products.domain.telemetry import LinkChange, RecordedBatch, RecordedSeries
from imcloud_products.store.tables import telemetry_points, telemetry_rollups
from imcloud_products.store.telemetry import SqlTelemetryStore
from tests.support.databases import migrated_database

DAY_MS = 86_400_000
T0 = 1_795_000_000_000 // DAY_MS * DAY_MS  # a midnight, so days and minutes line up


@pytest.fixture
def store(empty_database_url: str) -> Iterator[SqlTelemetryStore]:
    with migrated_database(empty_database_url, "imcloud_products") as database:
        yield SqlTelemetryStore(database, retention_days=30, rollup_retention_days=400)


def batch(
    machine: str,
    sequence: int,
    stamps: np.ndarray,
    values: np.ndarray,
    *,
    signal: str = "temp",
    fingerprint: int | None = None,
) -> RecordedBatch:
    return RecordedBatch(
        tenant_id="tenant-a",
        equipment_id=machine,
        sequence_id=sequence,
        receive_ms=int(stamps.max()),
        series=(
            RecordedSeries(
                signal=signal,
                timestamps_ms=stamps.astype(np.int64),
                values=values.astype(np.float64),
                flags=(values > 90).astype(np.int16),
            ),
        ),
        fingerprint=sequence if fingerprint is None else fingerprint,
    )


def record(store: SqlTelemetryStore, *batches: RecordedBatch) -> int:
    with store.transaction() as transaction:
        fresh = store.record(transaction, list(batches))
    return len(fresh)


def stored_rows(store: SqlTelemetryStore) -> tuple[int, int]:
    with store._db.engine.connect() as connection:  # the test reads the tables directly
        points = connection.execute(select(func.count()).select_from(telemetry_points)).scalar()
        rolled = connection.execute(select(func.sum(telemetry_rollups.c.count))).scalar()
    return int(points or 0), int(rolled or 0)


def test_redelivered_and_resent_points_are_stored_once(store: SqlTelemetryStore) -> None:
    machine = str(uuid.uuid4())
    stamps = T0 + np.arange(0, 600_000, 1000)
    values = np.linspace(0, 100, len(stamps))
    first = batch(machine, 1, stamps, values)
    assert record(store, first) == 1
    assert record(store, first) == 0, "a redelivered batch is skipped whole"
    # The same points under a new sequence id (a device resending after a restart),
    # mixed with new ones: only the new ones are stored and folded into rollups.
    overlapping = batch(machine, 2, T0 + np.arange(300_000, 900_000, 1000), np.full(600, 5.0))
    assert record(store, overlapping) == 1
    points, rolled = stored_rows(store)
    assert points == 900
    assert rolled == 900, "rollups count every stored point exactly once"


def test_record_returns_only_the_points_new_to_the_store(store: SqlTelemetryStore) -> None:
    """What record returns is what gets scored: a resend must bring no point twice."""
    machine = str(uuid.uuid4())
    seconds = T0 + np.arange(30) * 1000
    assert record(store, batch(machine, 1, seconds[:10], np.ones(10))) == 1

    def returned(*batches: RecordedBatch) -> list[tuple[int, list[int]]]:
        with store.transaction() as transaction:
            fresh = store.record(transaction, list(batches))
        return [(b.sequence_id, (b.series[0].timestamps_ms - T0).tolist()) for b in fresh]

    # Stored points resent under a new sequence id, and the same new points twice in one call.
    assert returned(
        batch(machine, 2, seconds[5:15], np.ones(10)),
        batch(machine, 3, seconds[10:20], np.ones(10)),
    ) == [
        (2, [10_000, 11_000, 12_000, 13_000, 14_000]),
        (3, [15_000, 16_000, 17_000, 18_000, 19_000]),
    ]
    assert returned(batch(machine, 4, seconds[:20], np.ones(20))) == [], "all resent"
    assert returned(batch(machine, 4, seconds[:20], np.ones(20))) == [], "redelivered"
    assert stored_rows(store) == (20, 20)


def test_a_reused_sequence_id_with_other_content_is_not_mistaken_for_a_resend(
    store: SqlTelemetryStore,
) -> None:
    machine = str(uuid.uuid4())
    record(store, batch(machine, 7, T0 + np.arange(10) * 1000, np.ones(10)))
    reused = batch(machine, 7, T0 + np.arange(10, 20) * 1000, np.ones(10), fingerprint=99)
    assert record(store, reused) == 1
    assert stored_rows(store)[0] == 20


def test_aggregates_match_the_raw_points_at_every_bucket_width(store: SqlTelemetryStore) -> None:
    machine = str(uuid.uuid4())
    rng = np.random.default_rng(3)
    stamps = T0 + np.arange(0, 3 * 3600_000, 1000)  # three hours at 1 s
    values = rng.normal(50, 10, len(stamps))
    for number, part in enumerate(np.array_split(np.arange(len(stamps)), 7)):
        record(store, batch(machine, number, stamps[part], values[part]))
    # A range that starts and ends inside minutes, so rollups and raw points mix.
    start, end = T0 + 90_500, T0 + 2 * 3600_000 + 37_250
    inside = (stamps >= start) & (stamps < end)
    for bucket_ms in (1000, 15_000, 60_000, 600_000, 3600_000):
        (result,) = store.aggregates(
            tenant_id="tenant-a",
            equipment_id=machine,
            signals=[],
            start_ms=start,
            end_ms=end,
            bucket_ms=bucket_ms,
        )
        buckets = stamps[inside] // bucket_ms * bucket_ms
        expected = sorted(set(buckets.tolist()))
        assert result.bucket_start_ms == expected
        for position, bucket_start in enumerate(expected):
            mine = values[inside][buckets == bucket_start]
            assert result.count[position] == len(mine)
            assert result.minimum[position] == pytest.approx(mine.min())
            assert result.maximum[position] == pytest.approx(mine.max())
            assert result.mean[position] == pytest.approx(mine.mean())


def test_points_page_by_signal_then_time(store: SqlTelemetryStore) -> None:
    machine = str(uuid.uuid4())
    stamps = T0 + np.arange(5) * 1000
    record(
        store,
        batch(machine, 1, stamps, np.arange(5.0), signal="b"),
        batch(machine, 2, stamps, np.arange(5.0) + 10, signal="a"),
    )
    first = store.points(
        tenant_id="tenant-a",
        equipment_id=machine,
        signals=[],
        start_ms=T0,
        end_ms=T0 + 10_000,
        limit=7,
        after=None,
    )
    assert [(s, v) for s, _, v, _ in first] == [("a", 10.0 + i) for i in range(5)] + [
        ("b", 0.0),
        ("b", 1.0),
    ]
    rest = store.points(
        tenant_id="tenant-a",
        equipment_id=machine,
        signals=[],
        start_ms=T0,
        end_ms=T0 + 10_000,
        limit=7,
        after=(first[-1][0], first[-1][1]),
    )
    assert [(s, v) for s, _, v, _ in rest] == [("b", 2.0), ("b", 3.0), ("b", 4.0)]
    other_tenant = store.points(
        tenant_id="tenant-b",
        equipment_id=machine,
        signals=[],
        start_ms=T0,
        end_ms=T0 + 10_000,
        limit=100,
        after=None,
    )
    assert other_tenant == []


def test_the_twin_keeps_the_newest_value_whatever_the_arrival_order(
    store: SqlTelemetryStore,
) -> None:
    machine = str(uuid.uuid4())
    record(store, batch(machine, 2, np.array([T0 + 5000]), np.array([95.0])))
    record(store, batch(machine, 1, np.array([T0 + 1000]), np.array([20.0])))  # late arrival
    with store.transaction() as transaction:
        store.record_link_changes(
            transaction, [LinkChange("tenant-a", machine, link_open=True, change_ms=T0 + 10)]
        )
        store.record_link_changes(  # an older event, delivered late: changes nothing
            transaction, [LinkChange("tenant-a", machine, link_open=False, change_ms=T0 + 5)]
        )
    silent = str(uuid.uuid4())
    answer = store.twins(tenant_id="tenant-a", equipment_ids=[machine, silent])
    state = answer[machine]
    assert [(r.signal, r.value, r.ts_ms, r.out_of_range) for r in state.reported] == [
        ("temp", 95.0, T0 + 5000, True)
    ]
    assert state.last_seen_ms == T0 + 5000
    assert state.link_open is True
    assert answer[silent].reported == []
    assert answer[silent].last_seen_ms is None
    assert store.twins(tenant_id="tenant-b", equipment_ids=[machine])[machine].reported == []


def test_retention_drops_old_points_but_keeps_rollups(store: SqlTelemetryStore) -> None:
    machine = str(uuid.uuid4())
    old = T0 - 40 * DAY_MS + np.arange(60) * 1000
    recent = T0 - DAY_MS + np.arange(60) * 1000
    record(store, batch(machine, 1, old, np.ones(60)), batch(machine, 2, recent, np.ones(60)))
    store.apply_retention(T0)
    points, rolled = stored_rows(store)
    assert points == 60
    assert rolled == 120, "rollups outlive raw points"


def test_a_rolled_back_transaction_leaves_nothing_half_known(store: SqlTelemetryStore) -> None:
    """A handler that fails after recording gets its batch again; the retry must
    store everything, findable, as if the first attempt never happened."""
    machine = str(uuid.uuid4())
    first = batch(machine, 1, T0 + 2 * DAY_MS + np.arange(10) * 1000, np.arange(10.0))

    def store_then_fail() -> None:
        with store.transaction() as transaction:
            store.record(transaction, [first])
            raise RuntimeError("the handler failed after storing")

    with pytest.raises(RuntimeError):
        store_then_fail()
    assert record(store, first) == 1
    found = store.points(
        tenant_id="tenant-a",
        equipment_id=machine,
        signals=[],
        start_ms=T0,
        end_ms=T0 + 3 * DAY_MS,
        limit=100,
        after=None,
    )
    assert [v for _, _, v, _ in found] == list(np.arange(10.0))
