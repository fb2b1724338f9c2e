"""A machine's telemetry through production's store to OEE, on SQLite and PostgreSQL:
the figures equal a count done here from the same points, whatever the batching,
and a batch taken twice changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
import pytest
from prometheus_client import REGISTRY

from imcloud_production.api.metrics import station_gauges
from imcloud_production.domain import monitoring, planning, services
from imcloud_production.domain.calendar import Calendar, ShiftBreak, ShiftPattern
from imcloud_production.domain.catalog import (
    Comparison,
    CounterKind,
    CountSignal,
    EquipmentState,
    StateMapping,
    StateRule,
)
from imcloud_production.domain.execution import Placement
from imcloud_production.domain.monitoring import MachineBatch
from imcloud_production.domain.oee import Figures
from imcloud_production.domain.tracking import Series
from imcloud_production.store.execution import SqlTimeline
from tests.unit.production.harness import ProductionStore

TENANT = "tenant-oee"
# Yesterday's shift of a plant on UTC: 05:00-13:00 with a break 09:00-09:15.
SHIFT_START = (datetime.now(UTC) - timedelta(days=1)).replace(
    hour=5, minute=0, second=0, microsecond=0
)
SHIFT_END = SHIFT_START + timedelta(hours=8)
BREAK = (SHIFT_START + timedelta(hours=4), SHIFT_START + timedelta(hours=4, minutes=15))
STEP_S = 10
IDEAL_S = 8.0
# (state code, from, until) in seconds after the shift start; running elsewhere.
SCRIPT = [(3, 3600, 5400), (3, 7200, 7260), (2, 10800, 11400)]


def state_at(second: int) -> int:
    return next((code for code, start, end in SCRIPT if start <= second < end), 1)


def machine_points() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    seconds = np.arange(-600, 8 * 3600, STEP_S)
    states = np.array([state_at(int(s)) for s in seconds], dtype=np.float64)
    running = states == 1
    # One unit per point while running; every 50th scrapped.
    made = np.cumsum(running)
    scrap = made // 50
    good = made - scrap
    stamps = (SHIFT_START.timestamp() + seconds) * 1000
    return stamps.astype(np.int64), states, good.astype(np.float64), scrap.astype(np.float64)


def expected() -> dict[str, float]:
    """The figures counted straight from the points, with the definitions of
    imcloud_production.domain.oee."""
    stamps, states, good, scrap = machine_points()
    start_ms, end_ms = SHIFT_START.timestamp() * 1000, SHIFT_END.timestamp() * 1000
    break_ms = (BREAK[0].timestamp() * 1000, BREAK[1].timestamp() * 1000)

    def planned(ms: float) -> bool:
        return start_ms <= ms < end_ms and not break_ms[0] <= ms < break_ms[1]

    # Each point's state holds until the next point (all within the hold time).
    seconds: dict[int, float] = {}
    for i in range(len(stamps)):
        until = stamps[i + 1] if i + 1 < len(stamps) else stamps[i] + STEP_S * 1000
        for ms in range(int(stamps[i]), int(until), 1000):
            if planned(ms):
                seconds[int(states[i])] = seconds.get(int(states[i]), 0.0) + 1
    pbt = (end_ms - start_ms - (break_ms[1] - break_ms[0])) / 1000
    # The 60 s stop is under the 120 s threshold: a small stop, inside APT.
    apt = seconds[1] + 60
    deltas_good = np.diff(good, prepend=good[0])
    deltas_scrap = np.diff(scrap, prepend=scrap[0])
    inside = np.array([planned(ms) for ms in stamps])
    good_units = float(deltas_good[inside].sum())
    scrap_units = float(deltas_scrap[inside].sum())
    produced = good_units + scrap_units
    return {
        "availability": apt / pbt,
        "performance": produced * IDEAL_S / apt,
        "quality": good_units / produced,
        "good": good_units,
        "scrap": scrap_units,
        "down": seconds[3] - 60,
        "setup": seconds[2],
    }


@pytest.fixture
def line(store: ProductionStore) -> dict[str, str]:
    uow = store.unit_of_work
    plant = services.create_plant(
        uow(), tenant_id=TENANT, name="Works", location="", time_zone="UTC"
    )
    line = services.create_line(
        uow(), tenant_id=TENANT, plant_id=plant.id, name="L1", description=""
    )
    station = services.create_station(
        uow(),
        tenant_id=TENANT,
        line_id=line.id,
        name="S1",
        description="",
        capabilities=["milling"],
        ideal_cycle_time_s=IDEAL_S,
    )
    planning.set_calendar(
        uow(),
        tenant_id=TENANT,
        calendar=Calendar(
            plant_id=plant.id,
            time_zone="",
            shifts=(
                ShiftPattern(
                    "early",
                    (1, 2, 3, 4, 5, 6, 7),
                    time(5),
                    time(13),
                    (ShiftBreak(time(9), time(9, 15)),),
                ),
            ),
            holidays=(),
            small_stop_threshold_s=120,
        ),
        # Before the shift: the machine's data comes after the calendar, as a plant's would.
        effective=SHIFT_START - timedelta(hours=12),
    )
    planning.set_state_mapping(
        uow(),
        mapping=StateMapping(
            tenant_id=TENANT,
            equipment_model_id="model-1",
            state_signal="run_state",
            rules=tuple(
                StateRule(Comparison.EQUAL, float(code), state)
                for code, state in [
                    (1, EquipmentState.RUNNING),
                    (2, EquipmentState.SETUP),
                    (3, EquipmentState.DOWN),
                ]
            ),
            default_state=EquipmentState.IDLE,
            good=CountSignal("good_count", CounterKind.TOTAL),
            scrap=CountSignal("scrap_count", CounterKind.TOTAL),
            hold_s=60,
            update_time=SHIFT_START,
        ),
    )
    monitoring.place_equipment(
        uow(),
        Placement(TENANT, "machine-1", "model-1", station.id, update_time=SHIFT_START),
    )
    return {"plant": plant.id, "line": line.id, "station": station.id}


def batches(points_per_batch: int) -> list[MachineBatch]:
    stamps, states, good, scrap = machine_points()
    parts = [slice(s, s + points_per_batch) for s in range(0, len(stamps), points_per_batch)]
    return [
        MachineBatch(
            TENANT,
            "machine-1",
            {
                "run_state": Series(stamps[part], states[part]),
                "good_count": Series(stamps[part], good[part]),
                "scrap_count": Series(stamps[part], scrap[part]),
                "spindle_temperature": Series(stamps[part], np.full(len(stamps[part]), 40.0)),
            },
        )
        for part in parts
    ]


def feed(store: ProductionStore, points_per_batch: int, *, repeat: bool = False) -> None:
    for batch in batches(points_per_batch):
        for _ in range(2 if repeat else 1):
            monitoring.record_machine_data(store.unit_of_work(), [batch], now=SHIFT_END)


def test_a_batch_landing_while_the_oee_is_read_is_counted_once(
    store: ProductionStore, line: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The machine's consumer commits a batch between the reader's statements, as a
    busy one does; the figure read then must be the one read after it."""
    fed = batches(100)
    halfway = len(fed) // 2
    for batch in fed[:halfway]:
        monitoring.record_machine_data(store.unit_of_work(), [batch], now=SHIFT_END)
    landing = [fed[halfway]]
    read_timeline = SqlTimeline.totals

    def totals_with_a_batch_landing(self: SqlTimeline, **query: Any) -> dict[str, Any]:
        if landing:
            monitoring.record_machine_data(store.unit_of_work(), [landing.pop()], now=SHIFT_END)
        return read_timeline(self, **query)

    monkeypatch.setattr(SqlTimeline, "totals", totals_with_a_batch_landing)

    def figures() -> Figures:
        whole, _ = monitoring.oee(
            store.unit_of_work(),
            tenant_id=TENANT,
            scope=("station", line["station"]),
            start=SHIFT_START,
            end=SHIFT_END,
            breakdown="",
            now=SHIFT_END,
        )
        return whole.figures

    while_landing = figures()
    assert not landing, "the batch landed during the read"
    assert while_landing == figures()


@pytest.mark.parametrize(("points_per_batch", "repeat"), [(7, False), (500, True)])
def test_oee_of_a_shift_equals_a_count_from_the_raw_points(
    store: ProductionStore, line: dict[str, str], points_per_batch: int, repeat: bool
) -> None:
    feed(store, points_per_batch, repeat=repeat)
    want = expected()
    later = SHIFT_END + timedelta(hours=2)
    for scope in (("station", line["station"]), ("line", line["line"]), ("plant", line["plant"])):
        whole, _ = monitoring.oee(
            store.unit_of_work(),
            tenant_id=TENANT,
            scope=scope,
            start=SHIFT_START - timedelta(hours=3),
            end=later,
            breakdown="",
            now=later,
        )
        got = whole.figures
        assert got.availability == pytest.approx(want["availability"], abs=1e-6), scope
        assert got.performance == pytest.approx(want["performance"], abs=1e-6), scope
        assert got.quality == pytest.approx(want["quality"], abs=1e-9), scope
        assert got.quantities.good == want["good"]
        assert got.quantities.scrap == want["scrap"]
        assert got.time.actual_unit_down_time_s == pytest.approx(want["down"])
        assert got.time.actual_unit_setup_time_s == pytest.approx(want["setup"])
        assert got.time.small_stop_time_s == pytest.approx(60)
        assert got.time.no_data_time_s == pytest.approx(0)


def test_a_range_inside_the_shift_and_the_shift_breakdown_agree(
    store: ProductionStore, line: dict[str, str]
) -> None:
    feed(store, 100)
    later = SHIFT_END + timedelta(hours=2)

    def oee(start: datetime, end: datetime, breakdown: str = "") -> monitoring.OeePart:
        whole, parts = monitoring.oee(
            store.unit_of_work(),
            tenant_id=TENANT,
            scope=("station", line["station"]),
            start=start,
            end=end,
            breakdown=breakdown,
            now=later,
        )
        return parts[0] if breakdown else whole

    shift = oee(SHIFT_START - timedelta(hours=1), later, "shift")
    assert shift.shift == "early"
    assert shift.figures.availability == pytest.approx(expected()["availability"], abs=1e-6)
    # 06:30-07:45 UTC, cut mid-hour at both ends: after the breakdown (06:00-06:30),
    # running but for the one-minute small stop at 07:00, which APT includes.
    part = oee(SHIFT_START + timedelta(minutes=90), SHIFT_START + timedelta(minutes=165))
    assert part.figures.time.planned_busy_time_s == 75 * 60
    assert part.figures.time.actual_production_time_s == pytest.approx(75 * 60)
    downtimes, _ = monitoring.list_downtimes(
        store.unit_of_work(),
        tenant_id=TENANT,
        scope=("station_id", line["station"]),
        start=SHIFT_START,
        end=SHIFT_END,
        requested_page_size=10,
        page_token="",
    )
    assert [(d.state, d.start_ms, d.end_ms) for d in downtimes] == [
        (
            EquipmentState.SETUP,
            int((SHIFT_START.timestamp() + 10800) * 1000),
            int((SHIFT_START.timestamp() + 11400) * 1000),
        ),
        (
            EquipmentState.DOWN,
            int((SHIFT_START.timestamp() + 3600) * 1000),
            int((SHIFT_START.timestamp() + 5400) * 1000),
        ),
    ]


def test_each_tracked_station_exports_its_current_shift_as_gauges(
    store: ProductionStore, line: dict[str, str]
) -> None:
    feed(store, 500)
    mid_shift = SHIFT_START + timedelta(hours=2)  # after the breakdown, before the setup
    station_gauges(store.unit_of_work, clock=lambda: mid_shift)()
    labels = {"tenant_id": TENANT, "station_id": line["station"]}
    whole, _ = monitoring.oee(
        store.unit_of_work(),
        tenant_id=TENANT,
        scope=("station", line["station"]),
        start=SHIFT_START,
        end=mid_shift,
        breakdown="",
        now=mid_shift,
    )
    # Two hours with the 30-minute breakdown in them.
    assert whole.figures.availability == pytest.approx((7200 - 1800) / 7200)
    for ratio in ("availability", "performance", "quality", "oee"):
        exported = REGISTRY.get_sample_value(f"imcloud_production_station_{ratio}_ratio", labels)
        assert exported == pytest.approx(getattr(whole.figures, ratio)), ratio


def test_a_calendar_set_back_in_time_counts_that_time_again(
    store: ProductionStore, line: dict[str, str]
) -> None:
    later = SHIFT_END + timedelta(hours=2)

    def figures() -> Figures:
        whole, _ = monitoring.oee(
            store.unit_of_work(),
            tenant_id=TENANT,
            scope=("line", line["line"]),
            start=SHIFT_START - timedelta(hours=1),
            end=later,
            breakdown="",
            now=later,
        )
        return whole.figures

    feed(store, 250)
    before = figures()
    # The shift really started an hour later (06:00), which puts the breakdown
    # (06:00-06:30) first in it; the figures follow.
    result = planning.set_calendar(
        store.unit_of_work(),
        tenant_id=TENANT,
        calendar=Calendar(
            plant_id=line["plant"],
            time_zone="",
            shifts=(
                ShiftPattern(
                    "early",
                    (1, 2, 3, 4, 5, 6, 7),
                    time(6),
                    time(13),
                    (ShiftBreak(time(9), time(9, 15)),),
                ),
            ),
            holidays=(),
            small_stop_threshold_s=120,
        ),
        effective=SHIFT_START - timedelta(hours=12),
    )
    assert result.recounted_minutes == 60
    after = figures()
    assert before.time.planned_busy_time_s - after.time.planned_busy_time_s == 3600
    assert after.time.actual_production_time_s == before.time.actual_production_time_s - 3600
    assert after.availability == pytest.approx(
        after.time.actual_production_time_s / after.time.planned_busy_time_s
    )
    # Units made 05:00-06:00 are outside the shift now.
    assert after.quantities.produced < before.quantities.produced
