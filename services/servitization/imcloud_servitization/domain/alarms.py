"""Alarm rules and the alarms they raise, evaluated in the stream.

A rule watches the machines of its scope (one machine, an equipment model, a
station, a line or a plant) for one condition: a signal beyond a threshold for a
while, a signal changing too fast, no data for a while, an anomaly episode of
some severity, a remote command that failed. A KPI rule watches its station,
line or plant as a whole: a shift that ended with OEE (or one of its factors)
below target. At most one alarm per rule and machine is open (active or
acknowledged); it clears by itself when the condition ends, or by hand.

Silence and shifts show in no record, so a sweep finds them: each watch that
may change without news carries the time it is next due (when a machine's
silence would last long enough, when a KPI rule looks at production again).

Exactly once under redelivery: each (rule, machine) pair keeps a watch with the
time of the last point or event it judged, in the transaction that raises or
clears its alarm. A batch delivered again holds nothing newer than that mark and
changes nothing; points older than the mark (a machine resending its backlog
after newer data) are stored by products but not judged again here. A threshold
batch that changed nothing else leaves its mark unwritten, which costs nothing:
judged again it changes nothing again.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np

from imcloud_core.errors import (
    FailedPrecondition,
    FieldViolation,
    ImcloudError,
    InvalidArgument,
    NotFound,
)
from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_servitization.domain.ports import Placements, ShiftKpis, UnitOfWork

NAME_MAX = 200
# How long a machine's place (model, station, line, plant) and a tenant's rules
# are taken as known: a new rule or a moved machine is judged within this long.
RULES_FRESH_S = 1.0
PLACEMENT_FRESH_S = 30.0
# A KPI rule asks production for the shifts that ended this often.
KPI_EVERY_S = 15.0
# How far back a KPI rule looks when it was not judged for long (the service was
# down): production answers OEE for at most 93 days.
KPI_LOOKBACK = timedelta(days=31)
# Due watches taken per sweep round; the rest wait for the next round.
DUE_PER_SWEEP = 500


class AlarmSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    MAJOR = "major"
    CRITICAL = "critical"


class AlarmState(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


OPEN_STATES = (AlarmState.ACTIVE, AlarmState.ACKNOWLEDGED)
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(AlarmSeverity)}
EPISODE_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}


class ScopeKind(StrEnum):
    EQUIPMENT = "equipment"
    EQUIPMENT_MODEL = "equipment_model"
    STATION = "station"
    LINE = "line"
    PLANT = "plant"


@dataclass(frozen=True)
class AlarmScope:
    kind: ScopeKind
    id: str


@dataclass(frozen=True)
class Placement:
    """Where a machine is: what a scope other than the machine itself matches."""

    equipment_model_id: str
    station_id: str = ""
    line_id: str = ""
    plant_id: str = ""

    def within(self, scope: AlarmScope, equipment_id: str) -> bool:
        placed = {
            ScopeKind.EQUIPMENT: equipment_id,
            ScopeKind.EQUIPMENT_MODEL: self.equipment_model_id,
            ScopeKind.STATION: self.station_id,
            ScopeKind.LINE: self.line_id,
            ScopeKind.PLANT: self.plant_id,
        }[scope.kind]
        return bool(placed) and placed == scope.id


@dataclass(frozen=True)
class Threshold:
    signal: str
    above: bool
    threshold: float
    duration_s: float
    hysteresis: float

    # Each takes one value, or an array of them and answers for each.
    def breached(self, value: float | np.ndarray) -> Any:
        return value > self.threshold if self.above else value < self.threshold

    def back(self, value: float | np.ndarray) -> Any:
        """Back past the threshold by the hysteresis: the alarm may clear."""
        if self.above:
            return value <= self.threshold - self.hysteresis
        return value >= self.threshold + self.hysteresis

    def describe(self, value: float) -> str:
        side = "above" if self.above else "below"
        held = f" for {self.duration_s:g} s" if self.duration_s else ""
        return f"{self.signal} {value:g} {side} {self.threshold:g}{held}"


@dataclass(frozen=True)
class RateOfChange:
    signal: str
    max_rate_per_s: float

    def describe(self, rate: float) -> str:
        return f"{self.signal} changed {rate:g}/s, faster than {self.max_rate_per_s:g}/s"


@dataclass(frozen=True)
class EpisodeRaised:
    min_severity: str  # low, medium or high


@dataclass(frozen=True)
class CommandFailed:
    pass


@dataclass(frozen=True)
class NoData:
    signal: str  # empty: any signal
    duration_s: float

    def describe(self) -> str:
        return f"no data from {self.signal or 'any signal'} for {self.duration_s:g} s"


KPIS = ("oee", "availability", "performance", "quality", "scrap_rate")


@dataclass(frozen=True)
class ShiftFigures:
    """Production's OEE of a scope over one shift (or what of it a range held);
    a figure is None where it is undefined (no planned time, nothing made)."""

    name: str
    start: datetime
    end: datetime
    oee: float | None
    availability: float | None
    performance: float | None
    quality: float | None

    def figure(self, kpi: str) -> float | None:
        if kpi == "scrap_rate":
            return None if self.quality is None else 1 - self.quality
        value: float | None = getattr(self, kpi)
        return value


@dataclass(frozen=True)
class KpiMissed:
    kpi: str  # one of KPIS
    target: float

    def missed(self, value: float) -> bool:
        return value > self.target if self.kpi == "scrap_rate" else value < self.target

    def describe(self, value: float, shift: ShiftFigures) -> str:
        side = "above" if self.kpi == "scrap_rate" else "below"
        return (
            f"{self.kpi} {value:.1%} {side} {self.target:.1%} in shift {shift.name or '?'} "
            f"({shift.start:%Y-%m-%d %H:%M}-{shift.end:%H:%M} UTC)"
        )


Condition = Threshold | RateOfChange | NoData | EpisodeRaised | CommandFailed | KpiMissed
SignalCondition = Threshold | RateOfChange


@dataclass(frozen=True)
class AlarmRule:
    id: str
    tenant_id: str
    name: str
    severity: AlarmSeverity
    scope: AlarmScope
    condition: Condition
    create_time: datetime


@dataclass(frozen=True)
class Alarm:
    id: str
    tenant_id: str
    rule_id: str
    rule_name: str
    severity: AlarmSeverity
    state: AlarmState
    equipment_id: str
    detail: str
    value: float
    raise_time: datetime
    update_time: datetime
    acknowledge_time: datetime | None = None
    acknowledged_by: str = ""
    clear_time: datetime | None = None
    cleared_by: str = ""

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True)
class Watch:
    """A rule's memory of one machine: what it judged last and since when the
    condition holds (a threshold's breach that has not lasted long enough yet)."""

    tenant_id: str
    rule_id: str
    equipment_id: str  # empty for a KPI rule's one watch
    judged_until_ms: int
    breach_since_ms: int | None = None
    last_value: float | None = None
    # When the sweep next looks at it (no data, KPI rules); None: not until news.
    due_ms: int | None = None


UNCHANGED = "unchanged"


@dataclass(frozen=True)
class AlarmChanged:
    """Published as alarm.raised, alarm.acknowledged or alarm.cleared (never as
    unchanged: what a repeated acknowledgement or clearing returns)."""

    alarm: Alarm
    change: str


@dataclass
class Sweep:
    """What a sweep changed, and the rules it could not judge this time (why)."""

    changes: list[AlarmChanged] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AlarmFilter:
    state: AlarmState | None = None
    open_only: bool = False
    equipment_id: str = ""
    rule_id: str = ""
    min_severity: AlarmSeverity | None = None


# -- rules ----------------------------------------------------------------------


def _violations(rule: AlarmRule) -> list[FieldViolation]:
    problems = []
    if not 1 <= len(rule.name) <= NAME_MAX or "\x00" in rule.name:
        problems.append(FieldViolation("name", f"1..{NAME_MAX} characters, none of them NUL"))
    if not rule.scope.id:
        problems.append(FieldViolation("scope", "name one machine, model, station, line or plant"))
    match rule.condition:
        case Threshold() as threshold:
            if not threshold.signal:
                problems.append(FieldViolation("threshold.signal", "required"))
            if not math.isfinite(threshold.threshold):
                problems.append(FieldViolation("threshold.threshold", "must be a finite number"))
            if not (math.isfinite(threshold.duration_s) and threshold.duration_s >= 0):
                problems.append(FieldViolation("threshold.duration_s", "must be 0 or more"))
            if not (math.isfinite(threshold.hysteresis) and threshold.hysteresis >= 0):
                problems.append(FieldViolation("threshold.hysteresis", "must be 0 or more"))
        case RateOfChange() as rate:
            if not rate.signal:
                problems.append(FieldViolation("rate_of_change.signal", "required"))
            if not (math.isfinite(rate.max_rate_per_s) and rate.max_rate_per_s > 0):
                problems.append(
                    FieldViolation("rate_of_change.max_rate_per_s", "must be more than 0")
                )
        case EpisodeRaised(min_severity=severity) if severity not in EPISODE_SEVERITY_RANK:
            problems.append(FieldViolation("episode.min_severity", "low, medium or high"))
        case NoData(duration_s=duration) if not (math.isfinite(duration) and duration > 0):
            problems.append(FieldViolation("no_data.duration_s", "must be more than 0"))
        case KpiMissed() as kpi:
            if kpi.kpi not in KPIS:
                problems.append(FieldViolation("kpi.kpi", ", ".join(KPIS)))
            if not (math.isfinite(kpi.target) and 0 <= kpi.target <= 1):
                problems.append(FieldViolation("kpi.target", "must be within 0..1"))
            if rule.scope.kind in (ScopeKind.EQUIPMENT, ScopeKind.EQUIPMENT_MODEL):
                problems.append(
                    FieldViolation("scope", "a KPI rule watches a station, line or plant")
                )
    return problems


def create_rule(uow: UnitOfWork, rule: AlarmRule) -> AlarmRule:
    problems = _violations(rule)
    if problems:
        raise InvalidArgument("the alarm rule is not valid", violations=tuple(problems))
    created = replace(rule, id=new_id(), create_time=utcnow())
    with uow:
        uow.alarm_rules.add(created)
        first = _first_watch(created)
        if first is not None:
            uow.alarm_watches.save(first)
    return created


def _first_watch(rule: AlarmRule) -> Watch | None:
    """The watch a rule has before any news: a KPI rule's (from now on), and a
    no-data rule's on the one machine it names (silent from now on)."""
    created_ms = _ms(rule.create_time)
    match rule.condition:
        case KpiMissed():
            return Watch(rule.tenant_id, rule.id, "", judged_until_ms=created_ms, due_ms=created_ms)
        case NoData(duration_s=duration) if rule.scope.kind is ScopeKind.EQUIPMENT:
            return Watch(
                rule.tenant_id,
                rule.id,
                rule.scope.id,
                judged_until_ms=-1,
                due_ms=created_ms + round(duration * 1000),
            )
    return None


def get_rule(uow: UnitOfWork, *, tenant_id: str, rule_id: str) -> AlarmRule:
    with uow:
        rule = uow.alarm_rules.get(tenant_id=tenant_id, rule_id=rule_id)
    if rule is None:
        raise NotFound(f"no alarm rule {rule_id}")
    return rule


def list_rules(
    uow: UnitOfWork, *, tenant_id: str, requested_page_size: int, page_token: str
) -> tuple[list[AlarmRule], str]:
    with uow:
        return uow.alarm_rules.list(
            tenant_id=tenant_id, page_size=page_size(requested_page_size), page_token=page_token
        )


def delete_rule(uow: UnitOfWork, *, tenant_id: str, rule_id: str, actor: str) -> None:
    now = utcnow()
    with uow:
        if not uow.alarm_rules.delete(tenant_id=tenant_id, rule_id=rule_id):
            raise NotFound(f"no alarm rule {rule_id}")
        for alarm in uow.alarms.open_of_rule(tenant_id=tenant_id, rule_id=rule_id):
            _clear(uow, alarm, at=now, by=actor)
        uow.alarm_watches.delete_of_rule(tenant_id=tenant_id, rule_id=rule_id)


# -- alarms ---------------------------------------------------------------------


def get_alarm(uow: UnitOfWork, *, tenant_id: str, alarm_id: str) -> Alarm:
    with uow:
        return _alarm(uow, tenant_id, alarm_id, for_update=False)


def list_alarms(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    where: AlarmFilter,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[Alarm], str]:
    with uow:
        return uow.alarms.list(
            tenant_id=tenant_id,
            where=where,
            page_size=page_size(requested_page_size),
            page_token=page_token,
        )


def acknowledge(uow: UnitOfWork, *, tenant_id: str, alarm_id: str, actor: str) -> AlarmChanged:
    """Records who has seen an open alarm; an acknowledged one stays as it was (the
    change returned is then "unchanged")."""
    with uow:
        alarm = _alarm(uow, tenant_id, alarm_id, for_update=True)
        if alarm.state is AlarmState.CLEARED:
            raise FailedPrecondition(
                f"alarm {alarm_id} is cleared; there is nothing to acknowledge"
            )
        if alarm.state is AlarmState.ACKNOWLEDGED:
            return AlarmChanged(alarm, UNCHANGED)
        now = utcnow()
        acknowledged = replace(
            alarm,
            state=AlarmState.ACKNOWLEDGED,
            acknowledge_time=now,
            acknowledged_by=actor,
            update_time=now,
        )
        uow.alarms.save(acknowledged)
        change = AlarmChanged(acknowledged, "acknowledged")
        uow.record(change)
    return change


def clear(uow: UnitOfWork, *, tenant_id: str, alarm_id: str, actor: str) -> AlarmChanged:
    """Ends an open alarm by hand; a cleared one stays as it was ("unchanged")."""
    with uow:
        alarm = _alarm(uow, tenant_id, alarm_id, for_update=True)
        if not alarm.open:
            return AlarmChanged(alarm, UNCHANGED)
        return _clear(uow, alarm, at=utcnow(), by=actor)


def _alarm(uow: UnitOfWork, tenant_id: str, alarm_id: str, *, for_update: bool) -> Alarm:
    alarm = uow.alarms.get(tenant_id=tenant_id, alarm_id=alarm_id, for_update=for_update)
    if alarm is None:
        raise NotFound(f"no alarm {alarm_id}")
    return alarm


def _raise(
    uow: UnitOfWork,
    rule: AlarmRule,
    equipment_id: str,
    *,
    since: datetime,
    detail: str,
    value: float,
) -> AlarmChanged:
    alarm = Alarm(
        id=new_id(),
        tenant_id=rule.tenant_id,
        rule_id=rule.id,
        rule_name=rule.name,
        severity=rule.severity,
        state=AlarmState.ACTIVE,
        equipment_id=equipment_id,
        detail=detail,
        value=value,
        raise_time=since,
        update_time=utcnow(),
    )
    uow.alarms.add(alarm)
    change = AlarmChanged(alarm, "raised")
    uow.record(change)
    return change


def _clear(uow: UnitOfWork, alarm: Alarm, *, at: datetime, by: str) -> AlarmChanged:
    cleared = replace(
        alarm, state=AlarmState.CLEARED, clear_time=at, cleared_by=by, update_time=utcnow()
    )
    uow.alarms.save(cleared)
    change = AlarmChanged(cleared, "cleared")
    uow.record(change)
    return change


# -- evaluation -----------------------------------------------------------------


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Series:
    """One signal's points of a batch, in the order the machine measured them."""

    signal: str
    timestamps_ms: Sequence[int]
    values: Sequence[float]


class _TenantRules:
    """A tenant's rules as the evaluator keeps them: those naming one machine by
    machine, the wider ones apart (they need the machine's place)."""

    def __init__(self, rules: Sequence[AlarmRule], version: tuple[int, datetime | None]) -> None:
        self.version = version
        self.checked_at = 0.0
        self.by_machine: dict[str, list[AlarmRule]] = {}
        self.wider: list[AlarmRule] = []
        for rule in rules:
            if rule.scope.kind is ScopeKind.EQUIPMENT:
                self.by_machine.setdefault(rule.scope.id, []).append(rule)
            else:
                self.wider.append(rule)


class _LiveRules:
    """Which of the rules judged in one transaction still exist: the evaluator's
    copy of a tenant's rules may hold one deleted since. Asked of the store once,
    when the first alarm is to be raised, so a batch that raises none asks nothing."""

    def __init__(self, uow: UnitOfWork, tenant_id: str, rule_ids: Sequence[str]) -> None:
        self._uow, self._tenant_id, self._rule_ids = uow, tenant_id, rule_ids
        self._existing: set[str] | None = None

    def __contains__(self, rule_id: object) -> bool:
        if self._existing is None:
            self._existing = self._uow.alarm_rules.existing(
                tenant_id=self._tenant_id, rule_ids=self._rule_ids
            )
        return rule_id in self._existing


@dataclass
class _Judgement:
    """One rule on one machine while a batch is judged."""

    rule: AlarmRule
    watch: Watch
    alarm: Alarm | None
    live: _LiveRules
    changes: list[AlarmChanged] = field(default_factory=list)

    def raise_alarm(self, uow: UnitOfWork, *, since: datetime, detail: str, value: float) -> None:
        """Raises the rule's alarm on the machine, unless the rule is gone."""
        if self.rule.id in self.live:
            change = _raise(
                uow, self.rule, self.watch.equipment_id, since=since, detail=detail, value=value
            )
            self.alarm = change.alarm
            self.changes.append(change)

    def _cleared(self, uow: UnitOfWork, stamp_ms: int) -> None:
        assert self.alarm is not None
        self.changes.append(_clear(uow, self.alarm, at=_time(stamp_ms), by=""))
        self.alarm = None

    def batch(self, uow: UnitOfWork, stamps_ms: np.ndarray, values: np.ndarray) -> None:
        """Judges points newer than the watch's mark, oldest first (the caller keeps
        only those: see ``_fresh``)."""
        if not len(stamps_ms):
            return
        match self.rule.condition:
            case Threshold() as threshold:
                self._threshold(uow, threshold, stamps_ms, values)
            case RateOfChange() as rate if not self._rate_quiet(rate, stamps_ms, values):
                for stamp_ms, value in zip(stamps_ms.tolist(), values.tolist(), strict=True):
                    self._rate(uow, rate, stamp_ms, value)
                    self.watch = replace(self.watch, judged_until_ms=stamp_ms, last_value=value)
        self.watch = replace(
            self.watch, judged_until_ms=int(stamps_ms[-1]), last_value=float(values[-1])
        )

    def heard(self, uow: UnitOfWork, stamps_ms: np.ndarray, now_ms: int) -> None:
        """Data newer than the mark arrived: the machine is not silent (any more)."""
        assert isinstance(self.rule.condition, NoData)
        newest = int(stamps_ms.max(initial=-1))
        if newest <= self.watch.judged_until_ms:
            return
        if self.alarm is not None:
            self._cleared(uow, now_ms)
        self.watch = replace(
            self.watch,
            judged_until_ms=newest,
            due_ms=now_ms + round(self.rule.condition.duration_s * 1000),
        )

    def _threshold(
        self, uow: UnitOfWork, threshold: Threshold, stamps_ms: np.ndarray, values: np.ndarray
    ) -> None:
        """Goes from one change to the next by array searches: a batch costs the same
        whether it changes nothing (the steady state) or a few things."""
        breached, back = threshold.breached(values), threshold.back(values)
        since, at, count = self.watch.breach_since_ms, 0, len(values)
        while at < count:
            if self.alarm is not None:
                cleared = _first(back, at)
                if cleared is None:
                    break
                self._cleared(uow, int(stamps_ms[cleared]))
                since, at = None, cleared + 1
                continue
            if since is None or not breached[at]:
                start = _first(breached, at)
                if start is None:
                    since = None
                    break
                since = int(stamps_ms[start])
            else:
                start = at  # the breach goes on from the batch before
            ended = _first(~breached, start)
            run_end = count if ended is None else ended
            held = _first(stamps_ms[start:run_end] - since >= threshold.duration_s * 1000, 0)
            if held is not None:
                value = float(values[start + held])
                self.raise_alarm(
                    uow, since=_time(since), detail=threshold.describe(value), value=value
                )
                if self.alarm is None:
                    break  # the rule is gone
                at = start + held + 1
            elif ended is None:
                break  # still in breach at the batch's end
            else:
                since, at = None, ended
        self.watch = replace(self.watch, breach_since_ms=since)

    def _rate_quiet(self, rate: RateOfChange, stamps_ms: np.ndarray, values: np.ndarray) -> bool:
        """Whether no step of the batch can raise or clear the alarm."""
        previous = self.watch.last_value
        if previous is None:
            stamps_before, values_before = stamps_ms[:-1], values[:-1]
            stamps_after, values_after = stamps_ms[1:], values[1:]
        else:
            stamps_before = np.concatenate(([self.watch.judged_until_ms], stamps_ms[:-1]))
            values_before = np.concatenate(([previous], values[:-1]))
            stamps_after, values_after = stamps_ms, values
        per_s = np.abs(values_after - values_before) / ((stamps_after - stamps_before) / 1000)
        fast = per_s > rate.max_rate_per_s
        return bool(fast.all()) if self.alarm is not None else not fast.any()

    def _rate(self, uow: UnitOfWork, rate: RateOfChange, stamp_ms: int, value: float) -> None:
        previous = self.watch.last_value
        if previous is None:
            return
        per_s = abs(value - previous) / ((stamp_ms - self.watch.judged_until_ms) / 1000)
        if per_s > rate.max_rate_per_s:
            if self.alarm is None:
                self.raise_alarm(
                    uow, since=_time(stamp_ms), detail=rate.describe(per_s), value=per_s
                )
        elif self.alarm is not None:
            self._cleared(uow, stamp_ms)


class AlarmEvaluator:
    """Judges telemetry and machine news against the rules of their tenant."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        placements: Placements,
        kpis: ShiftKpis,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._placements = placements
        self._kpis = kpis
        self._clock = clock
        self._wall_clock = wall_clock
        self._rules: dict[str, _TenantRules] = {}
        self._placed: dict[tuple[str, str], tuple[float, Placement | None]] = {}

    def watches(self, tenant_id: str) -> bool:
        """Whether the tenant has rules at all: a batch of a tenant without need
        not even be decoded."""
        rules = self._tenant_rules(tenant_id)
        return bool(rules.by_machine or rules.wider)

    def telemetry(
        self, *, tenant_id: str, equipment_id: str, series: Iterable[Series]
    ) -> list[AlarmChanged]:
        """Judges one batch; returns the alarms it raised and cleared."""
        by_signal = {s.signal: s for s in series}
        rules = [
            rule
            for rule in self._rules_of(tenant_id, equipment_id)
            if _judges_telemetry(rule.condition, by_signal)
        ]
        if not rules:
            return []
        now_ms = _ms(self._wall_clock())
        # The rules on one signal mostly share their mark: its points are sorted once.
        fresh = functools.cache(functools.partial(_fresh, by_signal))
        uow = self._unit_of_work()
        changes: list[AlarmChanged] = []
        with uow:
            moved = []
            judgements = self._judgements(uow, rules, equipment_id)
            resting = _resting_thresholds(judgements, fresh)
            for judged in judgements:
                if id(judged) in resting:
                    continue
                before, condition = judged.watch, judged.rule.condition
                if isinstance(condition, NoData):
                    heard = (
                        [by_signal[condition.signal]] if condition.signal else by_signal.values()
                    )
                    judged.heard(uow, _stamps(heard), now_ms)
                else:
                    assert isinstance(condition, SignalCondition)
                    judged.batch(uow, *fresh(condition.signal, judged.watch.judged_until_ms))
                if judged.changes or _worth_writing(before, judged.watch, condition):
                    moved.append(judged.watch)
                changes += judged.changes
            uow.alarm_watches.save(*moved)
        return changes

    def news(
        self,
        *,
        tenant_id: str,
        equipment_id: str,
        occurred: datetime,
        holds: Callable[[Condition], bool | None],
        detail: str,
    ) -> list[AlarmChanged]:
        """Judges one piece of news (an episode, a command's end): ``holds`` says
        whether it makes a rule's condition hold (True), end (False) or neither
        (None)."""
        stamp_ms = int(occurred.timestamp() * 1000)
        decided = [
            (rule, verdict)
            for rule in self._rules_of(tenant_id, equipment_id)
            if (verdict := holds(rule.condition)) is not None
        ]
        if not decided:
            return []
        uow = self._unit_of_work()
        changes: list[AlarmChanged] = []
        with uow:
            verdicts = dict(decided)
            for judged in self._judgements(uow, [rule for rule, _ in decided], equipment_id):
                verdict = verdicts[judged.rule]
                if stamp_ms <= judged.watch.judged_until_ms:
                    continue
                if verdict and judged.alarm is None:
                    judged.raise_alarm(uow, since=occurred, detail=detail, value=0.0)
                    changes += judged.changes
                elif not verdict and judged.alarm is not None:
                    changes.append(_clear(uow, judged.alarm, at=occurred, by=""))
                uow.alarm_watches.save(replace(judged.watch, judged_until_ms=stamp_ms))
        return changes

    def sweep(self) -> Sweep:
        """Judges the watches now due: raises the no-data alarms whose silence has
        lasted, and judges the shifts that ended for KPI rules."""
        now = self._wall_clock()
        with self._unit_of_work() as uow:
            due = uow.alarm_watches.due(now_ms=_ms(now), limit=DUE_PER_SWEEP)
        swept = Sweep()
        for watch in due:
            with self._unit_of_work() as uow:
                rule = uow.alarm_rules.get(tenant_id=watch.tenant_id, rule_id=watch.rule_id)
            match rule:
                case AlarmRule(condition=NoData() as condition):
                    swept.changes += self._silent(rule, condition, watch, now)
                case AlarmRule(condition=KpiMissed() as condition):
                    try:
                        shifts = self._kpis.per_shift(
                            tenant_id=rule.tenant_id,
                            scope=rule.scope,
                            start=max(_time(watch.judged_until_ms), now - KPI_LOOKBACK),
                            end=now,
                        )
                    except ImcloudError as problem:
                        # The scope is gone or production does not answer: try again
                        # later without holding up the other rules.
                        swept.problems.append(f"KPI rule {rule.id}: {problem}")
                        shifts = []
                    swept.changes += self._judge_shifts(rule, condition, watch, shifts, now)
        return swept

    def _silent(
        self, rule: AlarmRule, condition: NoData, watch: Watch, now: datetime
    ) -> list[AlarmChanged]:
        uow = self._unit_of_work()
        with uow:
            (judged,) = self._judgements(uow, [rule], watch.equipment_id)
            due_ms = judged.watch.due_ms
            # News may have come since the watch was read, or another replica swept it.
            if due_ms is None or due_ms > _ms(now):
                return []
            if judged.alarm is None:
                judged.raise_alarm(
                    uow,
                    since=_time(due_ms - round(condition.duration_s * 1000)),
                    detail=condition.describe(),
                    value=0.0,
                )
            uow.alarm_watches.save(replace(judged.watch, due_ms=None))
        return judged.changes

    def _judge_shifts(
        self,
        rule: AlarmRule,
        condition: KpiMissed,
        watch: Watch,
        shifts: Sequence[ShiftFigures],
        now: datetime,
    ) -> list[AlarmChanged]:
        """Judges the shifts that ended since the watch's mark, oldest first. Production
        cuts the last shift at the range's end (``now`` on a whole minute): a shift
        ending there may be cut short, so it waits for the next round."""
        cut = now.replace(second=0, microsecond=0)
        ended = sorted(
            (s for s in shifts if s.end < cut and _ms(s.end) > watch.judged_until_ms),
            key=lambda s: s.end,
        )
        uow = self._unit_of_work()
        with uow:
            (judged,) = self._judgements(uow, [rule], "")
            if judged.watch.judged_until_ms != watch.judged_until_ms:
                return []  # another replica judged these shifts
            for shift in ended:
                value = shift.figure(condition.kpi)
                if value is None:
                    continue
                missed = condition.missed(value)
                if missed and judged.alarm is None:
                    judged.raise_alarm(
                        uow, since=shift.end, detail=condition.describe(value, shift), value=value
                    )
                elif not missed and judged.alarm is not None:
                    judged._cleared(uow, _ms(shift.end))
            judged_until_ms = max((_ms(s.end) for s in ended), default=watch.judged_until_ms)
            uow.alarm_watches.save(
                replace(
                    judged.watch,
                    judged_until_ms=judged_until_ms,
                    due_ms=_ms(now) + round(KPI_EVERY_S * 1000),
                )
            )
        return judged.changes

    @staticmethod
    def _judgements(
        uow: UnitOfWork, rules: Sequence[AlarmRule], equipment_id: str
    ) -> list[_Judgement]:
        """The rules on the machine, each with its watch and open alarm (two queries)."""
        if not rules:
            return []
        tenant_id, rule_ids = rules[0].tenant_id, [rule.id for rule in rules]
        watches = uow.alarm_watches.of_machine(
            tenant_id=tenant_id, equipment_id=equipment_id, rule_ids=rule_ids
        )
        open_alarms = uow.alarms.open_on(
            tenant_id=tenant_id, equipment_id=equipment_id, rule_ids=rule_ids
        )
        live = _LiveRules(uow, tenant_id, rule_ids)
        return [
            _Judgement(
                rule,
                watches.get(rule.id) or Watch(tenant_id, rule.id, equipment_id, judged_until_ms=-1),
                open_alarms.get(rule.id),
                live,
            )
            for rule in rules
        ]

    def _tenant_rules(self, tenant_id: str) -> _TenantRules:
        """The tenant's rules, checked every RULES_FRESH_S by their count and newest
        creation (a cheap query), and read again only when those moved."""
        now = self._clock()
        known = self._rules.get(tenant_id)
        if known is None or now - known.checked_at > RULES_FRESH_S:
            with self._unit_of_work() as uow:
                version = uow.alarm_rules.version(tenant_id=tenant_id)
                if known is None or known.version != version:
                    known = _TenantRules(uow.alarm_rules.of_tenant(tenant_id=tenant_id), version)
            known.checked_at = now
            self._rules[tenant_id] = known
        return known

    def _rules_of(self, tenant_id: str, equipment_id: str) -> list[AlarmRule]:
        rules = self._tenant_rules(tenant_id)
        own = rules.by_machine.get(equipment_id, [])
        # A tenant whose rules all name machines costs no lookup of where they are.
        if not rules.wider:
            return own
        placement = self._placement(tenant_id, equipment_id) or Placement("")
        return own + [rule for rule in rules.wider if placement.within(rule.scope, equipment_id)]

    def _placement(self, tenant_id: str, equipment_id: str) -> Placement | None:
        now = self._clock()
        known = self._placed.get((tenant_id, equipment_id))
        if known is None or now - known[0] > PLACEMENT_FRESH_S:
            known = (
                now,
                self._placements.placement_of(tenant_id=tenant_id, equipment_id=equipment_id),
            )
            self._placed[(tenant_id, equipment_id)] = known
        return known[1]


def _worth_writing(before: Watch, after: Watch, condition: Condition) -> bool:
    """Whether a batch moved a watch in a way that must be kept. A threshold whose
    batch changed nothing but its mark need not be written (the steady state of most
    rules writes nothing): judging that batch again, redelivered after a crash,
    changes nothing either."""
    if isinstance(condition, Threshold):
        return before.breach_since_ms != after.breach_since_ms
    return before != after


def _resting_thresholds(
    judgements: Sequence[_Judgement], fresh: Callable[[str, int], tuple[np.ndarray, np.ndarray]]
) -> set[int]:
    """The judgements (by id) of thresholds with no alarm and no breach under way
    whose batch holds no breach either: judging them would change nothing, not
    even what is written. Found for all the rules on a signal at once."""
    by_signal_and_mark: dict[tuple[str, int], list[tuple[_Judgement, Threshold]]] = {}
    for judged in judgements:
        condition = judged.rule.condition
        if (
            isinstance(condition, Threshold)
            and judged.alarm is None
            and judged.watch.breach_since_ms is None
        ):
            key = (condition.signal, judged.watch.judged_until_ms)
            by_signal_and_mark.setdefault(key, []).append((judged, condition))
    resting: set[int] = set()
    for (signal, mark), group in by_signal_and_mark.items():
        _, values = fresh(signal, mark)
        limits = np.array([[threshold.threshold] for _, threshold in group])
        above = np.array([[threshold.above] for _, threshold in group])
        hits: np.ndarray = np.where(above, values > limits, values < limits)
        breached = [bool(row.any()) for row in hits]
        resting.update(
            id(judged) for (judged, _), hit in zip(group, breached, strict=True) if not hit
        )
    return resting


def _fresh(
    by_signal: dict[str, Series], signal: str, judged_until_ms: int
) -> tuple[np.ndarray, np.ndarray]:
    """A signal's points newer than a mark, oldest first: what a watch judges."""
    points = by_signal[signal]
    stamps_ms = np.asarray(points.timestamps_ms, np.int64)
    values = np.asarray(points.values, np.float64)
    keep = (stamps_ms > judged_until_ms) & np.isfinite(values)
    order = np.argsort(stamps_ms[keep], kind="stable")
    return stamps_ms[keep][order], values[keep][order]


def _first(mask: np.ndarray, start: int) -> int | None:
    """The index of the first true value from ``start`` on, if any."""
    found = int(np.argmax(mask[start:])) + start if start < len(mask) else start
    return found if start < len(mask) and mask[found] else None


def _judges_telemetry(condition: Condition, signals: Container[str]) -> bool:
    match condition:
        case Threshold() | RateOfChange():
            return condition.signal in signals
        case NoData():
            return not condition.signal or condition.signal in signals
    return False


def _stamps(series: Iterable[Series]) -> np.ndarray:
    return np.concatenate(
        [np.asarray(s.timestamps_ms, np.int64) for s in series] or [np.empty(0, np.int64)]
    )


def episode_verdict(severity: str, is_open: bool) -> Callable[[Condition], bool | None]:
    def holds(condition: Condition) -> bool | None:
        if not isinstance(condition, EpisodeRaised):
            return None
        if not is_open:
            return False
        # An episode below the rule's severity may still escalate: no verdict yet.
        serious = (
            EPISODE_SEVERITY_RANK.get(severity, 0) >= EPISODE_SEVERITY_RANK[condition.min_severity]
        )
        return True if serious else None

    return holds


def command_verdict(failed: bool) -> Callable[[Condition], bool | None]:
    def holds(condition: Condition) -> bool | None:
        return failed if isinstance(condition, CommandFailed) else None

    return holds


def severity_at_least(minimum: AlarmSeverity) -> list[AlarmSeverity]:
    return [s for s in AlarmSeverity if SEVERITY_RANK[s] >= SEVERITY_RANK[minimum]]
