"""Alarm rules judged through their store, on SQLite and PostgreSQL: each condition
raises one alarm per rule and machine and clears it, a redelivered batch or piece
of news changes nothing, and scopes match the machines placed in them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from imcloud_core.db import Database
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
    Placement,
    RateOfChange,
    ScopeKind,
    Series,
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


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def evaluator(db: Database, clock: Clock) -> AlarmEvaluator:
    return AlarmEvaluator(unit_of_work(db), Floor(), clock)


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
    found, _ = alarms.list_alarms(
        unit_of_work(db)(),
        tenant_id=TENANT,
        where=AlarmFilter(rule_id=rule_id),
        requested_page_size=100,
        page_token="",
    )
    return [a.state.value for a in reversed(found)]


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
    (alarm,) = alarms.list_alarms(
        unit_of_work(db)(),
        tenant_id=TENANT,
        where=AlarmFilter(),
        requested_page_size=10,
        page_token="",
    )[0]
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
    on_line = alarms.list_alarms(
        unit_of_work(db)(),
        tenant_id=TENANT,
        where=AlarmFilter(rule_id=watching.id),
        requested_page_size=10,
        page_token="",
    )[0]
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
