"""Maintenance windows on a station's plan: the cheapest for production first."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from imcloud_production.domain.scheduling.plan import Eta, PlannedOperation
from imcloud_production.domain.scheduling.windows import StationPlan, Window, suggested

NOW = datetime(2026, 12, 1, 8, 0, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(hours: float) -> datetime:
    return NOW.replace(second=0) + timedelta(hours=hours)


def operation(
    order: str, start_h: float, end_h: float, *, started: bool = False
) -> PlannedOperation:
    return PlannedOperation(
        work_order_id=order,
        sequence=1,
        name="mill",
        station_id="mill-1",
        line_id="line",
        setup_start=at(start_h),
        start=at(start_h),
        end=at(end_h),
        frozen=started,
        started=started,
    )


def eta(order: str, end_h: float, due_h: float) -> Eta:
    return Eta(
        order, due_time=at(due_h), end_time=at(end_h), lateness_s=0, explanation="", revision=1
    )


def plan(
    operations: list[PlannedOperation],
    *,
    working: list[tuple[datetime, datetime]] | None = None,
    stops: list[tuple[datetime, datetime]] | None = None,
    etas: dict[str, Eta] | None = None,
) -> StationPlan:
    return StationPlan(
        station_id="mill-1",
        plant_id="plant",
        now=NOW,
        operations=operations,
        working=working,
        planned_stops=stops or [],
        etas=etas or {},
        keep_until=NOW + timedelta(minutes=15),
    )


def test_an_idle_gap_costs_nothing_and_comes_first() -> None:
    busy = [
        operation("A", 0, 3, started=True),
        operation("B", 3, 6),
        operation("C", 8, 12),
    ]
    (best, *_) = suggested(plan(busy), duration=2 * HOUR, not_after=at(12), count=3)
    assert (best.start, best.end) == (at(6), at(8))
    assert best.displaced_operation_s == 0
    assert best.idle_s == 2 * 3600
    assert best.delayed == ()
    assert "displaces no operation" in best.explanation


def test_time_outside_the_shifts_and_planned_stops_costs_nothing() -> None:
    # Shifts -1..6 h and 9..17 h; a planned stop 5..6 h ends the first shift early.
    busy = [operation("A", 0, 3, started=True), operation("B", 3, 5), operation("C", 9, 17)]
    windows = suggested(
        plan(busy, working=[(at(-1), at(6)), (at(9), at(17))], stops=[(at(5), at(6))]),
        duration=2 * HOUR,
        not_after=at(17),
        count=2,
    )
    assert [(w.start, w.end) for w in windows] == [(at(5), at(7)), (at(7), at(9))]
    first, second = windows
    assert (first.planned_stop_s, first.non_working_s, first.displaced_operation_s) == (
        3600,
        3600,
        0,
    )
    assert (second.non_working_s, second.displaced_operation_s) == (7200, 0)
    assert "outside working time" in second.explanation


def test_a_window_never_overlaps_a_started_operation_or_the_frozen_near_horizon() -> None:
    busy = [operation("A", -1, 5, started=True), operation("B", 5.1, 30)]
    windows = suggested(plan(busy), duration=HOUR, not_after=at(30), count=5)
    assert windows
    for window in windows:
        assert window.start >= at(5)
    # N starts within the frozen near horizon (15 min): the next plan keeps it there.
    near = [operation("N", 0.1, 0.2), operation("M", 0.3, 30)]
    windows = suggested(plan(near), duration=HOUR, not_after=at(30), count=5)
    assert windows
    for window in windows:
        assert not (window.start < at(0.2) and at(0.1) < window.end)


def test_when_the_station_is_busy_throughout_the_least_lateness_wins() -> None:
    # A is due when it ends, B has a day of slack: maintenance goes before B, not A.
    busy = [operation("S", -1, 1, started=True), operation("A", 1, 4), operation("B", 4, 8)]
    etas = {"A": eta("A", 4, 4), "B": eta("B", 8, 32)}
    (best,) = suggested(plan(busy, etas=etas), duration=HOUR, not_after=at(8), count=1)
    assert (best.start, best.end) == (at(4), at(5))
    assert best.displaced_operation_s == 3600
    assert [(d.work_order_id, d.delay_s) for d in best.delayed] == [("B", 3600)]
    assert best.added_lateness_s == 0
    assert "work order B up to 1 h later" in best.explanation


def test_a_displaced_operation_pushes_the_ones_after_it_until_idle_time_absorbs_it() -> None:
    busy = [
        operation("S", -1, 1, started=True),
        operation("A", 1, 3),
        operation("B", 3, 5),
        operation("C", 9, 10),
    ]
    etas = {"A": eta("A", 3, 3), "B": eta("B", 5, 5), "C": eta("C", 10, 10)}
    (best,) = suggested(plan(busy, etas=etas), duration=HOUR, not_after=at(3), count=1)
    assert (best.start, best.end) == (at(1), at(2))
    assert {d.work_order_id: d.delay_s for d in best.delayed} == {"A": 3600, "B": 3600}
    assert best.added_lateness_s == 2 * 3600


def test_nothing_fits_before_the_predicted_failure() -> None:
    busy = [operation("A", -1, 10, started=True)]
    assert suggested(plan(busy), duration=HOUR, not_after=at(10), count=3) == []


durations = st.integers(min_value=1, max_value=240).map(lambda m: timedelta(minutes=m))


@st.composite
def station_plans(draw: st.DrawFn) -> StationPlan:
    moment = 0.0
    operations = []
    for index in range(draw(st.integers(0, 8))):
        moment += draw(st.floats(0, 3))
        length = draw(st.floats(0.1, 5))
        started = index == 0 and draw(st.booleans())
        operations.append(
            operation(f"W{index}", moment - (1 if started else 0), moment + length, started=started)
        )
        moment += length
    working = None
    if draw(st.booleans()):
        working = [(at(day * 24 - 2), at(day * 24 + 8)) for day in range(3)]
    stops = [(at(h), at(h + 1)) for h in draw(st.lists(st.integers(0, 40), max_size=3))]
    etas = {
        o.work_order_id: eta(o.work_order_id, (o.end - at(0)) / HOUR, draw(st.floats(0, 50)))
        for o in operations
    }
    return plan(operations, working=working, stops=stops, etas=etas)


@settings(max_examples=150, deadline=None)
@given(station_plans(), durations, st.integers(1, 48), st.integers(1, 5))
def test_suggestions_fit_their_bounds_never_overlap_and_come_cheapest_first(
    station: StationPlan, duration: timedelta, hours: int, count: int
) -> None:
    not_after = at(hours)
    windows = suggested(station, duration=duration, not_after=not_after, count=count)
    assert len(windows) <= count
    for window in windows:
        assert window.end - window.start == duration
        assert window.start >= NOW
        assert window.end <= not_after
        assert window.start == window.start.replace(second=0, microsecond=0)
        parts = window.displaced_operation_s + window.idle_s + window.planned_stop_s
        assert abs(parts + window.non_working_s - duration.total_seconds()) < 1e-6
        for kept in station.operations:
            if kept.started or kept.setup_start < station.keep_until:
                assert window.end <= kept.setup_start or kept.end <= window.start
    for first, second in itertools.pairwise(windows):
        assert _cost(first) <= _cost(second)
        assert first.end <= second.start or second.end <= first.start


def _cost(window: Window) -> tuple[float, float]:
    return (window.displaced_operation_s, window.added_lateness_s)
