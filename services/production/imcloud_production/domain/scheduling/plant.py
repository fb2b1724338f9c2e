"""A plant's open work as a scheduling problem, and the solver's answer as the
plant's schedule with an explained ETA per work order.

Time in the problem is whole seconds after "now" (the origin, 0): working
windows are rounded inwards and durations upwards, so a plan that fits in
seconds fits in reality.

What the problem holds, per released or running work order: its operations
that are not done, in routing order. A running operation stays at its station
from now until its projected end (from the units counted so far); the next
operations planned to start inside the frozen near horizon stay where the
previous schedule put them. Everything else may move to any capable station.
Stations work inside the plant's planned windows (shifts minus breaks); planned
downtime and a station that is down block them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from imcloud_production.domain.calendar import Span
from imcloud_production.domain.model import Station
from imcloud_production.domain.scheduling import solver
from imcloud_production.domain.scheduling.dispatch import Rule
from imcloud_production.domain.scheduling.model import (
    Candidate,
    Frozen,
    Impossible,
    Job,
    Operation,
    Problem,
    Resource,
    Schedule,
    TimeWindow,
    impossible_operations,
    job_ends,
)
from imcloud_production.domain.scheduling.plan import (
    Eta,
    MovedOperation,
    PlannedOperation,
    PlantSchedule,
    Trigger,
    duration_text,
    time_text,
    weight_of,
)
from imcloud_production.domain.work_orders import Operation as OrderOperation
from imcloud_production.domain.work_orders import OperationState, WorkOrder, WorkOrderState
from imcloud_production.settings import SchedulingSettings

# A running operation past its planned end, or without counts to project from,
# is assumed to end this soon.
ANY_MINUTE_S = 60


@dataclass(frozen=True)
class Blocked:
    start: datetime
    end: datetime
    # In words, for explanations: "down since 10:02", "planned downtime: spindle service".
    why: str


@dataclass(frozen=True)
class PlantFloor:
    """What the scheduler knows about a plant at one moment."""

    tenant_id: str
    plant_id: str
    now: datetime
    stations: Sequence[Station]
    # Planned windows per station id from now to the horizon; None: the plant has
    # no calendar and its stations work around the clock.
    working: Mapping[str, Sequence[Span]] | None
    # Planned downtime per station id.
    planned_downtime: Mapping[str, Sequence[Blocked]]
    # Released and running work orders.
    orders: Sequence[WorkOrder]
    # Stations down now, and since when.
    down_since: Mapping[str, datetime] = field(default_factory=dict)
    previous: PlantSchedule | None = None

    @property
    def origin(self) -> datetime:
        """Now, up to the next whole second: every time of the schedule is a whole
        number of seconds after it, so the next schedule reads them back exactly."""
        whole = self.now.replace(microsecond=0)
        return whole if whole == self.now else whole + timedelta(seconds=1)


@dataclass(frozen=True)
class Translation:
    problem: Problem
    # Work order id -> why it cannot be scheduled.
    unscheduled: dict[str, str]
    # (work order id, position in the problem's job) -> the order's operation.
    operations: dict[tuple[str, int], OrderOperation]
    # Station id -> what blocks it, in problem seconds.
    blocked: dict[str, list[tuple[int, int, str]]]


def translated(floor: PlantFloor, settings: SchedulingSettings) -> Translation:
    stations = {station.id: station for station in floor.stations}
    resources, blocked = _resources(floor, settings)
    jobs: list[Job] = []
    operations: dict[tuple[str, int], OrderOperation] = {}
    unscheduled: dict[str, str] = {}
    remaining: dict[str, list[OrderOperation]] = {}
    counted = 0
    # Running orders, then the most urgent first, so that a plant over the size limit
    # plans those, and what occupies a station is always in the plan.
    for order in sorted(floor.orders, key=_urgency):
        remaining[order.id] = [o for o in order.operations if o.state is not OperationState.DONE]
        if not remaining[order.id]:
            continue
        counted += len(remaining[order.id])
        if counted > settings.max_operations:
            unscheduled[order.id] = (
                f"the plant has more than {settings.max_operations} operations to plan; "
                "this order is among the least urgent, planned once others are done"
            )
            del remaining[order.id]
            continue
        job_operations = []
        for position, operation in enumerate(remaining[order.id]):
            operations[order.id, position] = operation
            candidates = tuple(
                Candidate(
                    station.id,
                    duration=_duration_s(order, operation, station),
                    setup=math.ceil(operation.setup_time_s),
                )
                for station in floor.stations
                if operation.capability in station.capabilities
            )
            job_operations.append(Operation(f"{operation.sequence}", candidates))
        jobs.append(
            Job(
                order.id,
                tuple(job_operations),
                release=0,
                due=_seconds(floor.origin, order.due_time),
                weight=weight_of(order.priority),
            )
        )
    frozen = _frozen(floor, settings, remaining, stations)
    problem = Problem(
        resources=tuple(resources),
        jobs=tuple(jobs),
        frozen=frozen,
        objective=settings.objective,
        origin=0,
    )
    for job_id, (position, why) in impossible_operations(problem).items():
        unscheduled[job_id] = _impossible_reason(
            operations[job_id, position], why, problem, stations
        )
    if unscheduled:
        # An unscheduled order keeps only what runs now: it still occupies its stations.
        kept = tuple(
            item
            for item in problem.frozen
            if item.job not in unscheduled or operations[item.job, item.position].at_station
        )
        running = {job_id: sum(1 for item in kept if item.job == job_id) for job_id in unscheduled}
        planned_part = tuple(
            job
            if job.id not in unscheduled
            else dataclasses.replace(job, operations=job.operations[: running[job.id]])
            for job in problem.jobs
        )
        problem = Problem(
            resources=problem.resources,
            jobs=tuple(job for job in planned_part if job.operations),
            frozen=kept,
            objective=problem.objective,
            origin=0,
        )
    return Translation(problem, unscheduled, operations, blocked)


# The rules a repair starts from: EDD or ATC gave the best schedule of the four on every
# plant of the plant benchmark, and each costs about 0.5 s per 1,000 operations of the
# repair's time limit.
REPAIR_RULES = (Rule.EDD, Rule.ATC)


def solved(translation: Translation, settings: SchedulingSettings, *, repair: bool) -> Schedule:
    """A repair gets the short time limit and two dispatching rules instead of four.
    Never CP-SAT's probing: on a plant's calendars it took the whole time limit in
    presolve (the plant benchmark), so the rules' schedule came back unimproved."""
    return solver.solve(
        translation.problem,
        solver.Settings(
            time_limit_s=settings.repair_time_limit_s if repair else settings.time_limit_s,
            workers=settings.workers,
            rules=REPAIR_RULES if repair else tuple(Rule),
            parameters=solver.QUICK_PARAMETERS,
        ),
    )


def projected_end(
    order: WorkOrder, operation: OrderOperation, station: Station | None, now: datetime
) -> datetime:
    """When a running operation will end: at the rate its good units came so far,
    or as planned before any came."""
    # One waiting for its recipe starts as soon as the machines applied it.
    start = operation.start_time or now
    cycle_s = _cycle_s(order, operation, station)
    setup_end = start + timedelta(seconds=operation.setup_time_s)
    planned = setup_end + timedelta(seconds=order.quantity * cycle_s)
    to_make = order.quantity - operation.good_quantity
    soon = now + timedelta(seconds=ANY_MINUTE_S)
    if to_make <= 0:
        return soon
    producing_s = (now - setup_end).total_seconds()
    if operation.good_quantity > 0 and producing_s > 0:
        rate = operation.good_quantity / producing_s
        return max(now + timedelta(seconds=to_make / rate), now + timedelta(seconds=1))
    return max(planned, soon)


def schedule_of(
    floor: PlantFloor,
    translation: Translation,
    schedule: Schedule,
    *,
    revision: int,
    triggers: Sequence[Trigger],
    settings: SchedulingSettings,
    undated: Collection[str] = (),
) -> PlantSchedule:
    """``undated`` orders have no due time of their own: they are never late, and
    their explanation says nothing of a due time."""
    stations = {station.id: station for station in floor.stations}
    frozen = translation.problem.frozen_by_key()
    planned = []
    for assignment in schedule.assignments:
        operation = translation.operations[assignment.job, assignment.position]
        station = stations[assignment.resource]
        planned.append(
            PlannedOperation(
                work_order_id=assignment.job,
                sequence=operation.sequence,
                name=operation.name,
                station_id=station.id,
                line_id=station.line_id,
                setup_start=_at(floor.origin, assignment.setup_start),
                start=_at(floor.origin, assignment.start),
                end=_at(floor.origin, assignment.end),
                frozen=(assignment.job, assignment.position) in frozen,
                started=operation.at_station,
            )
        )
    planned.sort(key=lambda o: (o.setup_start, o.station_id, o.work_order_id))
    by_order: dict[str, list[PlannedOperation]] = {}
    for item in planned:
        by_order.setdefault(item.work_order_id, []).append(item)
    names = {station.id: station.name for station in floor.stations}
    orders = {order.id: order for order in floor.orders}
    ends = job_ends(schedule.assignments)
    etas: dict[str, Eta] = {}
    weighted_tardiness = 0.0
    for order_id, end_s in ends.items():
        order = orders.get(order_id)
        if order is None or order_id in translation.unscheduled:
            continue
        end = _at(floor.origin, end_s)
        lateness_s = (
            0.0 if order_id in undated else max(0.0, (end - order.due_time).total_seconds())
        )
        weighted_tardiness += weight_of(order.priority) * lateness_s
        etas[order_id] = _eta(
            floor,
            translation,
            schedule,
            order,
            end,
            lateness_s,
            by_order[order_id],
            names,
            revision,
            triggers,
            settings,
            dated=order_id not in undated,
        )
    return PlantSchedule(
        tenant_id=floor.tenant_id,
        plant_id=floor.plant_id,
        revision=revision,
        status=schedule.status,
        method=schedule.method,
        compute_time=floor.now,
        solve_time_s=schedule.wall_time_s,
        triggers=tuple(triggers),
        operations=tuple(planned),
        etas=etas,
        unscheduled={
            order_id: reason
            for order_id, reason in translation.unscheduled.items()
            if order_id in orders
        },
        down_stations=dict(floor.down_since),
        reason=schedule.reason,
        weighted_tardiness_s=weighted_tardiness,
    )


def lateness_cause(
    translation: Translation, schedule: Schedule, job_id: str, names: Mapping[str, str]
) -> str:
    """Why a job ends when it does: its longest wait and what it waited for, or its work."""
    own = sorted((a for a in schedule.assignments if a.job == job_id), key=lambda a: a.position)
    ready, longest, waited = 0, 0, None
    waited_from = 0
    for assignment in own:
        wait = assignment.setup_start - ready
        if wait > longest:
            longest, waited, waited_from = wait, assignment, ready
        ready = assignment.end
    if waited is None:
        return f"its remaining work alone takes {duration_text(ready)} from now"
    sequence = translation.operations[job_id, waited.position].sequence
    station = names.get(waited.resource, waited.resource)
    lead = f"operation {sequence} waits {duration_text(longest)} for {station}"
    for start, end, why in translation.blocked.get(waited.resource, ()):
        if start < waited.setup_start and end > waited_from:
            return f"{lead}, {why}"
    occupation = waited.end - waited.setup_start
    windows = translation.problem.resource_by_id()[waited.resource].working_windows(0)
    first_fit = next(
        (
            max(window.start, waited_from)
            for window in windows
            if max(window.start, waited_from) + occupation <= window.end
        ),
        None,
    )
    if first_fit is None or first_fit >= waited.setup_start:
        # Nothing else in the way: the shifts have no stretch long enough for it sooner.
        return (
            f"{lead}: it runs uninterrupted for {duration_text(occupation)}, and "
            "the working time before has no stretch that long"
        )
    busy = sorted(
        {
            other.job
            for other in schedule.assignments
            if other.resource == waited.resource
            and other.job != job_id
            and other.setup_start < waited.setup_start
            and other.end > waited_from
        }
    )
    if busy:
        shown = ", ".join(busy[:3]) + (f" and {len(busy) - 3} more" if len(busy) > 3 else "")
        return f"{lead}, busy with work order{'s' if len(busy) > 1 else ''} {shown}"
    return f"{lead}, busy with frozen or running work"


# -- private ----------------------------------------------------------------------


def _resources(
    floor: PlantFloor, settings: SchedulingSettings
) -> tuple[list[Resource], dict[str, list[tuple[int, int, str]]]]:
    resources = []
    blocked: dict[str, list[tuple[int, int, str]]] = {}
    for station in floor.stations:
        cuts = [
            # Outwards: a blocked second is blocked whole.
            (
                _seconds(floor.origin, item.start, up=False),
                _seconds(floor.origin, item.end),
                item.why,
            )
            for item in floor.planned_downtime.get(station.id, ())
        ]
        since = floor.down_since.get(station.id)
        if since is not None:
            cuts.append((0, settings.station_down_assumed_s, f"down since {time_text(since)}"))
        cuts = [(start, end, why) for start, end, why in cuts if end > max(start, 0)]
        blocked[station.id] = cuts
        # Without a calendar, around the clock up to the horizon: every time in the
        # problem stays within it, so the objective's numbers stay small.
        calendar: tuple[TimeWindow, ...] = (TimeWindow(0, horizon_s(settings)),)
        if floor.working is not None:
            calendar = tuple(
                TimeWindow(start, end)
                for start, end in (
                    (
                        _seconds(floor.origin, window_start),
                        _seconds(floor.origin, window_end, up=False),
                    )
                    for window_start, window_end in floor.working.get(station.id, ())
                )
                if end > start
            )
        resources.append(
            Resource(
                station.id,
                calendar=calendar,
                blocked=tuple(TimeWindow(max(start, 0), end) for start, end, _ in cuts),
            )
        )
    return resources, blocked


def _urgency(order: WorkOrder) -> tuple[bool, int, datetime, str]:
    return (order.state is not WorkOrderState.RUNNING, -order.priority, order.due_time, order.id)


def horizon_s(settings: SchedulingSettings) -> int:
    return settings.horizon_days * 86_400


def _frozen(
    floor: PlantFloor,
    settings: SchedulingSettings,
    remaining: Mapping[str, Sequence[OrderOperation]],
    stations: Mapping[str, Station],
) -> tuple[Frozen, ...]:
    """The operations that stay where they are, a prefix of each job: first every
    running one (from now to its projected end; after the assumed repair on a
    station that is down), then the operations the previous schedule planned to
    start inside the near horizon, at stations still up and able, earliest first,
    as long as they fit after their job's frozen part and beside what is frozen."""
    orders = {order.id: order for order in floor.orders}
    kept: dict[str, list[Frozen]] = {order_id: [] for order_id in remaining}
    spans: dict[str, list[tuple[int, int]]] = {station_id: [] for station_id in stations}
    for order_id, operations in remaining.items():
        for position, operation in enumerate(operations):
            station = stations.get(operation.station_id)
            if not operation.at_station or station is None:
                break
            # Projected from the counts as they are now, then on the schedule's seconds.
            end_time = projected_end(orders[order_id], operation, station, floor.now)
            projected = _seconds(floor.origin, end_time)
            end = min(max(1, projected), horizon_s(settings))
            if station.id in floor.down_since:
                end += settings.station_down_assumed_s
            kept[order_id].append(Frozen(order_id, position, station.id, 0, 0, end))
            spans[station.id].append((0, end))
    previous = floor.previous
    if previous is not None:
        horizon_end = floor.origin + timedelta(seconds=settings.frozen_horizon_s)
        candidates = []
        for order_id, operations in remaining.items():
            position = len(kept[order_id])
            if position == len(operations):
                continue
            planned = previous.operation(order_id, operations[position].sequence)
            if (
                planned is not None
                and floor.origin <= planned.setup_start
                and (planned.start < horizon_end)
            ):
                candidates.append((planned.setup_start, order_id))
        for _, order_id in sorted(candidates):
            _keep_planned(
                floor,
                orders[order_id],
                remaining[order_id],
                kept,
                spans,
                stations,
                horizon_end,
            )
    return tuple(item for items in kept.values() for item in items)


def _keep_planned(
    floor: PlantFloor,
    order: WorkOrder,
    operations: Sequence[OrderOperation],
    kept: dict[str, list[Frozen]],
    spans: dict[str, list[tuple[int, int]]],
    stations: Mapping[str, Station],
    horizon_end: datetime,
) -> None:
    """Extends the order's frozen prefix with its operations planned in the near horizon."""
    assert floor.previous is not None
    prefix = kept[order.id]
    while len(prefix) < len(operations):
        operation = operations[len(prefix)]
        planned = floor.previous.operation(order.id, operation.sequence)
        if planned is None or planned.started:
            return
        station = stations.get(planned.station_id)
        if (
            station is None
            or operation.capability not in station.capabilities
            or station.id in floor.down_since
            or planned.setup_start < floor.origin
            or planned.start >= horizon_end
        ):
            return
        setup_start = _seconds(floor.origin, planned.setup_start)
        ready = prefix[-1].end if prefix else 0
        start = setup_start + math.ceil(operation.setup_time_s)
        end = start + _duration_s(order, operation, station)
        # The setup may overlap the previous operation (see model.py); the work may not.
        if start < ready or _overlaps(spans[station.id], setup_start, end):
            return
        prefix.append(Frozen(order.id, len(prefix), station.id, setup_start, start, end))
        spans[station.id].append((setup_start, end))


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(start < other_end and other_start < end for other_start, other_end in spans)


def _eta(
    floor: PlantFloor,
    translation: Translation,
    schedule: Schedule,
    order: WorkOrder,
    end: datetime,
    lateness_s: float,
    own: Sequence[PlannedOperation],
    names: Mapping[str, str],
    revision: int,
    triggers: Sequence[Trigger],
    settings: SchedulingSettings,
    *,
    dated: bool,
) -> Eta:
    before = floor.previous.etas.get(order.id) if floor.previous else None
    change = timedelta(seconds=settings.eta_change_s)
    if before is not None and abs(end - before.end_time) < change:
        return Eta(
            work_order_id=order.id,
            due_time=order.due_time,
            end_time=end,
            lateness_s=lateness_s,
            explanation=before.explanation,
            revision=before.revision,
            previous_end_time=before.previous_end_time,
            triggers=before.triggers,
            moved=before.moved,
        )
    moved = []
    for operation in own:
        if floor.previous is None:
            break
        was = floor.previous.operation(order.id, operation.sequence)
        if was is not None and (
            was.station_id != operation.station_id or abs(was.start - operation.start) >= change
        ):
            moved.append(
                MovedOperation(
                    operation.sequence,
                    was.station_id,
                    was.start,
                    operation.station_id,
                    operation.start,
                )
            )
    events = _events_text(triggers, order.id, new=before is None)
    if before is None:
        text = [f"Planned to end {time_text(end)}, after: {events}."]
    else:
        shift = (end - before.end_time).total_seconds()
        direction = "later" if shift > 0 else "earlier"
        text = [
            f"ETA {time_text(end)}, {duration_text(abs(shift))} {direction} than "
            f"{time_text(before.end_time)}, after: {events}."
        ]
    if moved:
        text.append("Moved: " + "; ".join(_moved_text(item, names) for item in moved) + ".")
    if lateness_s > 0:
        cause = lateness_cause(translation, schedule, order.id, names)
        text.append(
            f"Late by {duration_text(lateness_s)} after its due time {time_text(order.due_time)}: "
            f"{cause}."
        )
    elif dated:
        slack = (order.due_time - end).total_seconds()
        text.append(f"On time, {duration_text(slack)} before its due time.")
    return Eta(
        work_order_id=order.id,
        due_time=order.due_time,
        end_time=end,
        lateness_s=lateness_s,
        explanation=" ".join(text),
        revision=revision,
        previous_end_time=before.end_time if before else None,
        triggers=tuple(triggers),
        moved=tuple(moved),
    )


# An explanation names at most this many events, then how many more there were.
EVENTS_NAMED = 3


def _events_text(triggers: Sequence[Trigger], order_id: str, *, new: bool) -> str:
    """The events an explanation names: for an order new to the schedule, its own
    (its release), else all of them, the first few by name."""
    named = [t for t in triggers if t.subject_id == order_id] if new else []
    named = named or list(triggers)
    if not named:
        return "a new schedule"
    text = "; ".join(trigger.description for trigger in named[:EVENTS_NAMED])
    if len(named) > EVENTS_NAMED:
        text += f"; and {len(named) - EVENTS_NAMED} more events"
    return text


def _moved_text(item: MovedOperation, names: Mapping[str, str]) -> str:
    before = names.get(item.previous_station_id, item.previous_station_id)
    now = names.get(item.station_id, item.station_id)
    return (
        f"operation {item.sequence} from {before} at {time_text(item.previous_start)} "
        f"to {now} at {time_text(item.start)}"
    )


def _impossible_reason(
    operation: OrderOperation,
    why: Impossible,
    problem: Problem,
    stations: Mapping[str, Station],
) -> str:
    step = f"operation {operation.sequence} ({operation.name})"
    if why is Impossible.NO_CANDIDATE:
        return f"{step} needs {operation.capability!r}, which no station of the plant offers"
    capable = ", ".join(
        station.name
        for station in stations.values()
        if operation.capability in station.capabilities
    )
    return (
        f"{step} runs uninterrupted, and no working window of {capable} in the scheduling "
        "horizon is long enough for it and its setup"
    )


def _cycle_s(order: WorkOrder, operation: OrderOperation, station: Station | None) -> float:
    if station is None:
        return operation.ideal_cycle_time_s
    return station.ideal_cycle_for(order.part_number, operation.ideal_cycle_time_s)


def _duration_s(order: WorkOrder, operation: OrderOperation, station: Station) -> int:
    return max(1, math.ceil(order.quantity * _cycle_s(order, operation, station)))


def _seconds(now: datetime, moment: datetime, *, up: bool = True) -> int:
    seconds = (moment - now).total_seconds()
    return math.ceil(seconds) if up else math.floor(seconds)


def _at(now: datetime, seconds: int) -> datetime:
    return now + timedelta(seconds=seconds)
