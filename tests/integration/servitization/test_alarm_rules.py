"""Alarm rules judged through their store, on SQLite and PostgreSQL: each condition
raises one alarm per rule and machine and clears it, a redelivered batch or piece
of news changes nothing, and scopes match the machines placed in them. Silence and
ended shifts are found by the sweep, on a clock the tests move."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from imcloud_core.db import Database
from imcloud_core.errors import InvalidArgument, Unavailable
from imcloud_core.events import parse_envelope
from imcloud_servitization.domain import alarms
from imcloud_servitization.domain.alarms import (
    AlarmEvaluator,
    AlarmFilter,
    AlarmRule,
    AlarmScope,
    AlarmSeverity,
    CommandFailed,
    Condition,
    EpisodeRaised,
    KpiMissed,
    NoData,
    Placement,
    RateOfChange,
    ScopeKind,
    Series,
    ShiftFigures,
    Threshold,
    command_verdict,
    episode_verdict,
)
from imcloud_servitization.module import unit_of_work
from imcloud_servitization.store.tables import outbox
from tests.support.databases import migrated_database

TENANT = "tenant-1"
MILL, LATHE = "mill-1", "lathe-1"
PLACES = {
    MILL: Placement("model-mill", "station-1", "line-1", "plant-1"),
    LATHE: Placement("model-lathe", "station-9", "line-9", "plant-1"),
}
T0 = 1_800_000_000_000


class Floor:
    """Where the test's machines stand (products and production, in the platform)."""

    def placement_of(self, *, tenant_id: str, equipment_id: str) -> Placement | None:
        return PLACES.get(equipment_id) if tenant_id == TENANT else None


@pytest.fixture
def db(empty_database_url: str) -> Iterator[Database]:
    with migrated_database(empty_database_url, "imcloud_servitization") as database:
        yield database


class Shifts:
    """Production's OEE per shift, as the test sets it."""

    def __init__(self) -> None:
        self.ended: list[ShiftFigures] = []
        self.down = False

    def per_shift(
        self, *, tenant_id: str, scope: AlarmScope, start: datetime, end: datetime
    ) -> list[ShiftFigures]:
        if self.down:
            raise Unavailable("production is not answering")
        assert (tenant_id, scope) == (TENANT, AlarmScope(ScopeKind.STATION, "station-1"))
        cut = end.replace(second=0, microsecond=0)
        return [
            replace(s, start=max(s.start, start), end=min(s.end, cut))
            for s in self.ended
            if s.end > start and s.start < cut
        ]


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class WallClock:
    """The platform's time, which silence and shifts are measured by."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture
def shifts() -> Shifts:
    return Shifts()


@pytest.fixture
def evaluator(db: Database, clock: Clock, wall: WallClock, shifts: Shifts) -> AlarmEvaluator:
    return AlarmEvaluator(unit_of_work(db), Floor(), shifts, clock, wall)


def rule(db: Database, condition: Condition, scope: AlarmScope | None = None) -> AlarmRule:
    return alarms.create_rule(
        unit_of_work(db)(),
        AlarmRule(
            id="",
            tenant_id=TENANT,
            name="watch",
            severity=AlarmSeverity.MAJOR,
            scope=scope or AlarmScope(ScopeKind.EQUIPMENT, MILL),
            condition=condition,
            create_time=datetime.now(UTC),
        ),
    )


def temperature(
    evaluator: AlarmEvaluator, *points: tuple[float, float], machine: str = MILL
) -> None:
    evaluator.telemetry(
        tenant_id=TENANT,
        equipment_id=machine,
        series=[
            Series(
                "spindle_temperature",
                [T0 + int(seconds * 1000) for seconds, _ in points],
                [value for _, value in points],
            )
        ],
    )


def states(db: Database, rule_id: str) -> list[str]:
    """The rule's alarms, oldest raised first."""
    found = alarms_of(db, AlarmFilter(rule_id=rule_id))
    return [a.state.value for a in reversed(found)]


def alarms_of(db: Database, where: AlarmFilter) -> list[alarms.Alarm]:
    """Newest raised first."""
    found, _ = alarms.list_alarms(
        unit_of_work(db)(), tenant_id=TENANT, where=where, requested_page_size=100, page_token=""
    )
    return found


def published(db: Database) -> list[str]:
    with db.transaction() as session:
        rows = session.execute(select(outbox.c.envelope).order_by(outbox.c.position)).all()
    return [parse_envelope(row.envelope).type for row in rows]


HOT = Threshold("spindle_temperature", True, 90.0, duration_s=2, hysteresis=5)


def test_a_threshold_held_long_enough_raises_once_and_clears_past_the_hysteresis(
    db: Database, evaluator: AlarmEvaluator
) -> None:
    watching = rule(db, HOT)
    temperature(evaluator, (0, 95))
    temperature(evaluator, (1, 80))  # a batch with no breach ends the one before it
    temperature(evaluator, (10, 95), (11, 96))
    assert states(db, watching.id) == []
    batch = ((12, 97), (13, 98), (14, 88))
    temperature(evaluator, *batch)
    temperature(evaluator, *batch)  # redelivered
    assert states(db, watching.id) == ["active"]
    (alarm,) = alarms_of(db, AlarmFilter())
    assert alarm.raise_time == datetime.fromtimestamp((T0 + 10_000) / 1000, UTC)
    assert (alarm.value, alarm.detail) == (97.0, "spindle_temperature 97 above 90 for 2 s")
    temperature(evaluator, (14, 99), (14.5, 97))  # still hot: nothing changes
    temperature(evaluator, (15, 85))
    temperature(evaluator, (16, 99), (19, 99))
    assert states(db, watching.id) == ["cleared", "active"]
    assert published(db) == ["alarm.raised", "alarm.cleared", "alarm.raised"]


def test_a_rate_of_change_raises_on_a_fast_step_and_clears_at_a_slow_one(
    db: Database, evaluator: AlarmEvaluator
) -> None:
    watching = rule(db, RateOfChange("spindle_temperature", max_rate_per_s=2))
    temperature(evaluator, (0, 20), (1, 21), (2, 30), (3, 40))
    assert states(db, watching.id) == ["active"]
    temperature(evaluator, (5, 41))
    assert states(db, watching.id) == ["cleared"]


def test_an_episode_raises_at_its_severity_and_clears_when_it_closes(
    db: Database, evaluator: AlarmEvaluator
) -> None:
    watching = rule(db, EpisodeRaised("medium"))

    def news(second: int, severity: str, is_open: bool) -> None:
        evaluator.news(
            tenant_id=TENANT,
            equipment_id=MILL,
            occurred=datetime.fromtimestamp(T0 / 1000 + second, UTC),
            holds=episode_verdict(severity, is_open),
            detail="episode",
        )

    news(0, "low", True)
    assert states(db, watching.id) == []
    news(5, "high", True)
    news(6, "high", True)
    assert states(db, watching.id) == ["active"]
    news(9, "high", False)
    news(5, "high", True)  # the escalation delivered again, after the close
    assert states(db, watching.id) == ["cleared"]


def test_a_failed_command_raises_and_a_later_success_clears(
    db: Database, evaluator: AlarmEvaluator
) -> None:
    watching = rule(db, CommandFailed())
    for second, failed in ((0, True), (1, True), (2, False)):
        evaluator.news(
            tenant_id=TENANT,
            equipment_id=MILL,
            occurred=datetime.fromtimestamp(T0 / 1000 + second, UTC),
            holds=command_verdict(failed),
            detail="command",
        )
        if second == 1:
            assert states(db, watching.id) == ["active"]
    assert states(db, watching.id) == ["cleared"]


def test_a_line_scope_watches_the_machines_placed_on_the_line_only(
    db: Database, evaluator: AlarmEvaluator
) -> None:
    watching = rule(db, HOT, AlarmScope(ScopeKind.LINE, "line-1"))
    plant_wide = rule(db, HOT, AlarmScope(ScopeKind.PLANT, "plant-1"))
    for machine in (MILL, LATHE):
        temperature(evaluator, (0, 99), (3, 99), machine=machine)
    on_line = alarms_of(db, AlarmFilter(rule_id=watching.id))
    assert [a.equipment_id for a in on_line] == [MILL]
    assert states(db, plant_wide.id) == ["active", "active"]


def test_a_rule_deleted_while_its_tenant_s_rules_are_cached_raises_nothing(
    db: Database, evaluator: AlarmEvaluator
) -> None:
    watching = rule(db, Threshold("spindle_temperature", True, 90.0, 0, 0))
    temperature(evaluator, (0, 80))  # the evaluator reads the tenant's rules
    alarms.delete_rule(unit_of_work(db)(), tenant_id=TENANT, rule_id=watching.id, actor="key:ops")
    temperature(evaluator, (1, 99))
    assert states(db, watching.id) == []


def open_alarms(db: Database, rule_id: str) -> list[alarms.Alarm]:
    return alarms_of(db, AlarmFilter(rule_id=rule_id, open_only=True))


def test_a_silent_machine_raises_a_no_data_alarm_once_and_its_next_data_clears_it(
    db: Database, evaluator: AlarmEvaluator, wall: WallClock, clock: Clock
) -> None:
    watching = rule(db, NoData("spindle_temperature", duration_s=30))
    created = watching.create_time

    def at(seconds: float) -> None:
        wall.now = created + timedelta(seconds=seconds)
        clock.now = seconds

    def near(moment: datetime | None, seconds: float) -> bool:
        assert moment is not None
        return abs(moment - (created + timedelta(seconds=seconds))) < timedelta(milliseconds=2)

    at(29)
    evaluator.sweep()  # silent since the rule's creation, not yet for long enough
    temperature(evaluator, (0, 50))  # heard: the silence starts again
    evaluator.telemetry(  # another signal does not count for this rule
        tenant_id=TENANT,
        equipment_id=MILL,
        series=[Series("spindle_speed", [T0 + 5_000], [1200.0])],
    )
    at(58)
    evaluator.sweep()
    assert states(db, watching.id) == []
    at(60)
    evaluator.sweep()
    evaluator.sweep()
    assert states(db, watching.id) == ["active"]
    (alarm,) = open_alarms(db, watching.id)
    assert near(alarm.raise_time, 29)
    assert alarm.detail == "no data from spindle_temperature for 30 s"
    at(70)
    temperature(evaluator, (0, 50))  # the old batch again: not news
    assert states(db, watching.id) == ["active"]
    at(80)
    temperature(evaluator, (60, 51))
    assert states(db, watching.id) == ["cleared"]
    (cleared,) = alarms_of(db, AlarmFilter(rule_id=watching.id))
    assert near(cleared.clear_time, 80)
    at(111)
    evaluator.sweep()
    assert states(db, watching.id) == ["cleared", "active"]
    assert published(db) == ["alarm.raised", "alarm.cleared", "alarm.raised"]


def test_a_model_wide_no_data_rule_watches_each_machine_from_its_first_data(
    db: Database, evaluator: AlarmEvaluator, wall: WallClock
) -> None:
    watching = rule(
        db, NoData("", duration_s=10), AlarmScope(ScopeKind.EQUIPMENT_MODEL, "model-mill")
    )
    wall.now = watching.create_time + timedelta(seconds=1)
    temperature(evaluator, (0, 50), machine=MILL)
    temperature(evaluator, (0, 50), machine=LATHE)  # another model
    wall.now += timedelta(seconds=60)
    evaluator.sweep()
    assert [a.equipment_id for a in open_alarms(db, watching.id)] == [MILL]


def test_a_no_data_rule_needs_a_duration(db: Database) -> None:
    with pytest.raises(InvalidArgument) as refused:
        rule(db, NoData("", duration_s=0))
    assert [v.field for v in refused.value.violations] == ["no_data.duration_s"]


STATION = AlarmScope(ScopeKind.STATION, "station-1")


def shift(name: str, start: datetime, hours: float, oee: float | None) -> ShiftFigures:
    quality = None if oee is None else 0.99
    end = start + timedelta(hours=hours)
    return ShiftFigures(name, start, end, oee, oee, 1.0 if oee is not None else None, quality)


def test_a_shift_below_its_oee_target_raises_and_the_next_that_meets_it_clears(
    db: Database, evaluator: AlarmEvaluator, wall: WallClock, shifts: Shifts
) -> None:
    watching = rule(db, KpiMissed("oee", 0.75), STATION)
    created = watching.create_time.replace(second=0, microsecond=0)
    early, late = created - timedelta(hours=2), created + timedelta(hours=6)
    shifts.ended = [
        shift("early", early, 8, 0.62),
        shift("late", late, 8, 0.80),
        shift("night", late + timedelta(hours=8), 8, None),  # nothing planned
        shift("early", late + timedelta(hours=16), 8, 0.70),
    ]
    wall.now = late + timedelta(hours=1)  # the late shift is under way
    evaluator.sweep()
    (alarm,) = open_alarms(db, watching.id)
    assert (alarm.equipment_id, alarm.raise_time, alarm.value) == ("", late, 0.62)
    assert alarm.detail.startswith("oee 62.0% below 75.0% in shift early")
    wall.now += timedelta(seconds=20)
    evaluator.sweep()  # the late shift has not ended: nothing changes
    assert states(db, watching.id) == ["active"]
    wall.now = late + timedelta(hours=17)
    evaluator.sweep()
    evaluator.sweep()
    assert states(db, watching.id) == ["cleared"]
    wall.now = late + timedelta(hours=25)
    evaluator.sweep()
    assert states(db, watching.id) == ["cleared", "active"]
    assert published(db) == ["alarm.raised", "alarm.cleared", "alarm.raised"]


def test_a_kpi_rule_production_cannot_answer_is_tried_again_later(
    db: Database, evaluator: AlarmEvaluator, wall: WallClock, shifts: Shifts
) -> None:
    watching = rule(db, KpiMissed("scrap_rate", 0.005), STATION)
    start = watching.create_time.replace(second=0, microsecond=0)
    shifts.ended = [shift("early", start, 1, 0.9)]  # 1 % scrap
    shifts.down = True
    wall.now = start + timedelta(hours=2)
    assert evaluator.sweep().problems == [f"KPI rule {watching.id}: production is not answering"]
    shifts.down = False
    assert evaluator.sweep().changes == []  # not due again yet
    wall.now += timedelta(seconds=alarms.KPI_EVERY_S)
    (raised,) = evaluator.sweep().changes
    assert raised.alarm.detail.startswith("scrap_rate 1.0% above 0.5% in shift early")


def test_a_kpi_rule_watches_a_station_line_or_plant_only(db: Database) -> None:
    with pytest.raises(InvalidArgument) as refused:
        rule(db, KpiMissed("oee", 1.5))
    assert [v.field for v in refused.value.violations] == ["kpi.target", "scope"]


def held_breaches(
    points: list[tuple[float, float]], threshold: Threshold
) -> list[tuple[float, float | None, float]]:
    """What a threshold rule should raise, point by point: (raised at, cleared at or
    None, value) in seconds from T0, for the condition's "above" side."""
    found: list[tuple[float, float | None, float]] = []
    since: float | None = None
    raised: tuple[float, float] | None = None
    for second, value in points:
        if raised is not None:
            if value <= threshold.threshold - threshold.hysteresis:
                found.append((raised[0], second, raised[1]))
                raised, since = None, None
            continue
        if value <= threshold.threshold:
            since = None
            continue
        since = second if since is None else since
        if second - since >= threshold.duration_s:
            raised = (since, value)
    return found + ([(raised[0], None, raised[1])] if raised else [])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(st.integers(0, 10), min_size=1, max_size=40),
    cuts=st.sets(st.integers(1, 39)),
    duration_s=st.integers(0, 3),
    hysteresis=st.integers(0, 2),
)
def test_a_threshold_judges_a_series_alike_however_it_is_cut_into_batches(
    db: Database,
    evaluator: AlarmEvaluator,
    clock: Clock,
    values: list[int],
    cuts: set[int],
    duration_s: int,
    hysteresis: int,
) -> None:
    condition = Threshold("spindle_temperature", True, 5.0, duration_s, hysteresis)
    points = [(float(second), float(value)) for second, value in enumerate(values)]
    bounds = [0, *sorted(c for c in cuts if c < len(points)), len(points)]
    expected = held_breaches(points, condition)

    def seconds(moment: datetime | None) -> float | None:
        return None if moment is None else moment.timestamp() - T0 / 1000

    for batches in ([points[a:b] for a, b in itertools.pairwise(bounds)], [points]):
        machine = f"m-{uuid.uuid4().hex[:20]}"
        watching = rule(db, condition, AlarmScope(ScopeKind.EQUIPMENT, machine))
        clock.now += alarms.RULES_FRESH_S + 1  # the evaluator reads the new rule
        for batch in batches:
            temperature(evaluator, *batch, machine=machine)
        found = alarms_of(db, AlarmFilter(rule_id=watching.id))
        judged = [(seconds(a.raise_time), seconds(a.clear_time), a.value) for a in found]
        assert judged[::-1] == expected, batches
