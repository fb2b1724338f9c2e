"""A plant's schedule checked against the plant's floor, not against the
scheduling problem it was translated into: random stations, calendars, planned
downtime, stations down and work orders in progress, planned once and planned
again after a disruption.

What a shop floor relies on: no station does two things at once; a work
order's operations run in routing order; work waits for a working window long
enough for it and stays clear of planned downtime and of a station that is
down; only stations that offer the capability run it, with the time its setup
and its units need; what runs now stays where it runs; what was planned for
the next minutes stays where it was; every open operation is planned exactly
once or its work order says why it cannot be; each ETA is its order's last
end, and names the events that moved it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imcloud_production.domain.calendar import Span
from imcloud_production.domain.model import Station
from imcloud_production.domain.scheduling import plant as plants
from imcloud_production.domain.scheduling.model import Status
from imcloud_production.domain.scheduling.plan import (
    PlannedOperation,
    PlantSchedule,
    Trigger,
    TriggerKind,
)
from imcloud_production.domain.work_orders import (
    Operation,
    OperationState,
    WorkOrder,
    WorkOrderState,
)
from imcloud_production.settings import SchedulingSettings

TENANT = "tenant"
PLANT = "plant"
# A Monday, on the minute: shifts and planned downtime start on whole minutes, "now" does not.
BASE = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
CAPABILITIES = ("milling", "drilling", "grinding", "painting")
# Offered by no station of any generated plant.
NOBODY = "welding"
PARTS = ("P-1", "P-2", "P-3")
# After the shifts drawn, one long enough for any operation drawn: every plant can be planned.
LAST_WINDOW = timedelta(days=40)
SECOND = timedelta(seconds=1)
QUICK = SchedulingSettings(time_limit_s=0.4, repair_time_limit_s=0.25, workers=1)


# --- random plants ----------------------------------------------------------------------


@st.composite
def floors(draw: st.DrawFn) -> plants.PlantFloor:
    now = BASE + timedelta(
        minutes=draw(st.integers(0, 600)), microseconds=draw(st.integers(0, 999_999))
    )
    stations = [draw(_stations(number)) for number in range(draw(st.integers(1, 5)))]
    ids = [station.id for station in stations]
    working: dict[str, list[Span]] | None = None
    if draw(st.booleans()):
        if draw(st.booleans()):
            shared = draw(_shifts(now))
            working = {station_id: shared for station_id in ids}
        else:
            working = {station_id: draw(_shifts(now)) for station_id in ids}
    planned_downtime = {
        station_id: draw(st.lists(_downtime(now), max_size=2)) for station_id in ids
    }
    down_since = {
        station_id: now - timedelta(minutes=draw(st.integers(1, 120)))
        for station_id in draw(st.lists(st.sampled_from(ids), unique=True, max_size=2))
    }
    busy: set[str] = set()
    orders = [
        draw(_orders(f"wo-{number}", now, stations, busy))
        for number in range(draw(st.integers(1, 8)))
    ]
    return plants.PlantFloor(
        tenant_id=TENANT,
        plant_id=PLANT,
        now=now,
        stations=stations,
        working=working,
        planned_downtime=planned_downtime,
        orders=orders,
        down_since=down_since,
    )


@st.composite
def _stations(draw: st.DrawFn, number: int) -> Station:
    return Station(
        id=f"s{number}",
        tenant_id=TENANT,
        line_id=f"line-{number % 2}",
        plant_id=PLANT,
        name=f"Station {number}",
        description="",
        create_time=BASE,
        update_time=BASE,
        capabilities=tuple(
            draw(st.lists(st.sampled_from(CAPABILITIES), min_size=1, max_size=3, unique=True))
        ),
        ideal_cycle_time_s=float(draw(st.integers(1, 60))),
        ideal_cycle_times=draw(
            st.dictionaries(st.sampled_from(PARTS), st.integers(1, 90).map(float), max_size=2)
        ),
    )


@st.composite
def _shifts(draw: st.DrawFn, now: datetime) -> list[Span]:
    """Shifts with breaks, the first one under way; windows that touch hand over."""
    cursor = _minute_of(now) - timedelta(minutes=draw(st.integers(0, 180)))
    windows = []
    for _ in range(draw(st.integers(1, 4))):
        end = cursor + timedelta(minutes=draw(st.integers(30, 480)))
        windows.append((cursor, end))
        cursor = end + timedelta(minutes=draw(st.integers(0, 120)))
    windows.append((cursor, cursor + LAST_WINDOW))
    return windows


@st.composite
def _downtime(draw: st.DrawFn, now: datetime) -> plants.Blocked:
    start = _minute_of(now) + timedelta(minutes=draw(st.integers(-60, 600)))
    end = start + timedelta(minutes=draw(st.integers(5, 180)))
    return plants.Blocked(start, end, f"planned downtime until {end:%H:%M}")


@st.composite
def _orders(
    draw: st.DrawFn,
    order_id: str,
    now: datetime,
    stations: Sequence[Station],
    busy: set[str],
    *,
    progress: bool = True,
) -> WorkOrder:
    """Released, or running (with ``progress``): a prefix of done operations and
    perhaps one running, on a station running nothing else."""
    offered = sorted({capability for station in stations for capability in station.capabilities})
    quantity = float(draw(st.integers(1, 200)))
    part_number = draw(st.sampled_from(PARTS))
    operations = []
    for index in range(draw(st.integers(1, 5))):
        capability = NOBODY if draw(st.integers(0, 9)) == 9 else draw(st.sampled_from(offered))
        operations.append(
            Operation(
                sequence=index + 1,
                name=f"step {index + 1}",
                capability=capability,
                setup_time_s=draw(st.integers(0, 3600)) / 2,
                # 0: the station's own cycle time.
                ideal_cycle_time_s=float(draw(st.integers(0, 120))),
            )
        )
    doable = 0
    while doable < len(operations) and operations[doable].capability != NOBODY:
        doable += 1
    done = draw(st.integers(0, min(doable, len(operations) - 1))) if progress else 0
    clock = now - timedelta(hours=12)
    for index in range(done):
        station = draw(st.sampled_from(_capable(stations, operations[index])))
        operations[index] = dataclasses.replace(
            operations[index],
            station_id=station.id,
            state=OperationState.DONE,
            good_quantity=quantity,
            start_time=clock,
            end_time=clock + timedelta(hours=1),
        )
        clock += timedelta(hours=1)
    free = [station for station in _capable(stations, operations[done]) if station.id not in busy]
    if progress and bool(free) and draw(st.booleans()):
        station = draw(st.sampled_from(free))
        busy.add(station.id)
        began_s = draw(st.integers(0, 7200))
        # As operation_started records it.
        cycle_s = station.ideal_cycle_for(part_number, operations[done].ideal_cycle_time_s)
        # Nothing counted during the setup; then up to a bit faster than the ideal cycle.
        countable = max(0, int((began_s - operations[done].setup_time_s) / cycle_s * 1.2))
        operations[done] = dataclasses.replace(
            operations[done],
            station_id=station.id,
            state=OperationState.RUNNING,
            start_time=now - timedelta(seconds=began_s),
            good_quantity=float(draw(st.integers(0, min(int(quantity), countable)))),
            ideal_cycle_time_s=cycle_s,
        )
    started = any(operation.state is not OperationState.PENDING for operation in operations)
    return WorkOrder(
        id=order_id,
        tenant_id=TENANT,
        plant_id=PLANT,
        product_id=f"product-{part_number}",
        part_number=part_number,
        quantity=quantity,
        due_time=now + timedelta(minutes=draw(st.integers(-120, 48 * 60))),
        priority=draw(st.integers(0, 1000)),
        state=WorkOrderState.RUNNING if started else WorkOrderState.RELEASED,
        create_time=now - timedelta(days=1),
        operations=tuple(operations),
        release_time=now - timedelta(days=1),
        start_time=now - timedelta(hours=12) if started else None,
    )


def _capable(stations: Sequence[Station], operation: Operation) -> list[Station]:
    return [station for station in stations if operation.capability in station.capabilities]


def _minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


# --- planning, as the service does ------------------------------------------------------


def planned(
    floor: plants.PlantFloor,
    scheduling: SchedulingSettings,
    *,
    revision: int,
    triggers: Sequence[Trigger],
) -> PlantSchedule:
    translation = plants.translated(floor, scheduling)
    solved = plants.solved(
        translation,
        scheduling,
        repair=floor.previous is not None,
    )
    return plants.schedule_of(
        floor, translation, solved, revision=revision, triggers=triggers, settings=scheduling
    )


# --- what the floor relies on -----------------------------------------------------------


def violations(
    floor: plants.PlantFloor, schedule: PlantSchedule, scheduling: SchedulingSettings
) -> list[str]:
    """Every rule the schedule breaks, checked from the floor alone."""
    found: list[str] = []
    if schedule.status not in (Status.OPTIMAL, Status.FEASIBLE):
        return [f"no schedule for a plant that has one: {schedule.status}, {schedule.reason}"]
    stations = {station.id: station for station in floor.stations}
    offered = {capability for station in floor.stations for capability in station.capabilities}
    by_order: dict[str, list[PlannedOperation]] = {}
    for operation in schedule.operations:
        by_order.setdefault(operation.work_order_id, []).append(operation)
    orders = {order.id: order for order in floor.orders}
    if set(by_order) - set(orders):
        found.append(f"operations of orders not on the floor: {set(by_order) - set(orders)}")
    for order in floor.orders:
        open_operations = [o for o in order.operations if o.state is not OperationState.DONE]
        planned_ones = sorted(by_order.get(order.id, []), key=lambda o: o.sequence)
        cannot = [o.sequence for o in open_operations if o.capability not in offered]
        if order.id in schedule.unscheduled:
            reason = schedule.unscheduled[order.id]
            # What runs may show where it runs; nothing else of the order is planned.
            if any(not o.started for o in planned_ones) or order.id in schedule.etas:
                found.append(f"{order.id} is unscheduled and planned")
            if not any(f"operation {o.sequence} (" in reason for o in open_operations):
                found.append(f"{order.id} is unscheduled for no operation of its own: {reason}")
            if cannot and not any(
                f"operation {sequence} (" in reason
                and f"{order.operation(sequence).capability!r}" in reason
                for sequence in cannot
            ):
                found.append(f"{order.id}: {reason!r} does not name the operation nobody runs")
            if not cannot:
                found.append(f"{order.id} is unscheduled, and every step has a station: {reason}")
            continue
        if cannot:
            found.append(f"{order.id} needs {NOBODY!r}, which nobody offers, and is planned")
            continue
        sequences = [o.sequence for o in planned_ones]
        if sequences != [o.sequence for o in open_operations]:
            found.append(
                f"{order.id}: planned operations {sequences}, open ones "
                f"{[o.sequence for o in open_operations]}"
            )
            continue
        for operation, item in zip(open_operations, planned_ones, strict=True):
            found += _operation_violations(floor, scheduling, order, operation, item, stations)
        for before, after in pairwise(planned_ones):
            if after.start < before.end:
                found.append(
                    f"{order.id}: operation {after.sequence} starts before "
                    f"operation {before.sequence} ends"
                )
        found += _eta_violations(order, planned_ones, schedule)
    found += _double_bookings(schedule.operations)
    found += _busy_stations(floor, schedule, scheduling)
    return found


def _operation_violations(
    floor: plants.PlantFloor,
    scheduling: SchedulingSettings,
    order: WorkOrder,
    operation: Operation,
    item: PlannedOperation,
    stations: Mapping[str, Station],
) -> list[str]:
    name = f"{order.id}#{operation.sequence} on {item.station_id}"
    running = operation.state is OperationState.RUNNING
    if item.started != running:
        return [f"{name}: started {item.started}, but the operation is {operation.state}"]
    if running:
        # It runs where it runs, from now (to the problem's second) until its projected
        # end: a fact, not a plan.
        if item.station_id != operation.station_id or abs(item.setup_start - floor.now) >= SECOND:
            return [f"{name}: running at {operation.station_id}, planned from {item.setup_start}"]
        if not item.frozen:
            return [f"{name}: running, and not frozen"]
        earliest, latest = _projected(floor, scheduling, order, operation)
        if not earliest <= item.end <= latest:
            return [f"{name}: ends {item.end}, projected between {earliest} and {latest}"]
        return []
    found = []
    station = stations[item.station_id]
    if operation.capability not in station.capabilities:
        found.append(f"{name}: the station does not offer {operation.capability}")
    if item.setup_start < floor.now:
        found.append(f"{name}: set up before now")
    cycle_s = station.ideal_cycle_for(order.part_number, operation.ideal_cycle_time_s)
    if (item.end - item.start).total_seconds() < order.quantity * cycle_s:
        found.append(f"{name}: less time than {order.quantity:g} units take")
    if (item.start - item.setup_start).total_seconds() < operation.setup_time_s:
        found.append(f"{name}: less time than its setup takes")
    if floor.working is not None and not any(
        start <= item.setup_start and item.end <= end
        for start, end in _merged(floor.working.get(item.station_id, ()))
    ):
        found.append(f"{name}: [{item.setup_start}, {item.end}) is not inside one working window")
    closed = [
        (blocked.start, blocked.end, blocked.why)
        for blocked in floor.planned_downtime.get(item.station_id, ())
    ]
    if item.station_id in floor.down_since:
        back = floor.now + timedelta(seconds=scheduling.station_down_assumed_s)
        closed.append((floor.now, back, "down"))
    for start, end, why in closed:
        if item.setup_start < end and start < item.end:
            found.append(
                f"{name}: [{item.setup_start}, {item.end}) overlaps {why} [{start}, {end})"
            )
    return found


def _eta_violations(
    order: WorkOrder, planned_ones: Sequence[PlannedOperation], schedule: PlantSchedule
) -> list[str]:
    eta = schedule.etas.get(order.id)
    if eta is None:
        return [f"{order.id} is planned and has no ETA"]
    last = planned_ones[-1].end
    found = []
    if eta.end_time != last or max(o.end for o in planned_ones) != last:
        found.append(f"{order.id}: ETA {eta.end_time}, its last operation ends {last}")
    lateness_s = max(0.0, (last - order.due_time).total_seconds())
    if eta.due_time != order.due_time or abs(eta.lateness_s - lateness_s) > 1e-6:
        found.append(f"{order.id}: late by {eta.lateness_s} s, not {lateness_s}")
    return found


def _double_bookings(operations: Sequence[PlannedOperation]) -> list[str]:
    found = []
    by_station: dict[str, list[PlannedOperation]] = {}
    for operation in operations:
        by_station.setdefault(operation.station_id, []).append(operation)
    for station_id, booked in by_station.items():
        booked.sort(key=lambda o: o.setup_start)
        for before, after in pairwise(booked):
            if after.setup_start < before.end:
                found.append(
                    f"{station_id} is double-booked: {before.work_order_id}#{before.sequence} "
                    f"until {before.end}, {after.work_order_id}#{after.sequence} from "
                    f"{after.setup_start}"
                )
    return found


def _busy_stations(
    floor: plants.PlantFloor, schedule: PlantSchedule, scheduling: SchedulingSettings
) -> list[str]:
    """A station running an operation gets no other work before that operation's
    projected end, whether or not its order can be planned to the end."""
    found = []
    for order in floor.orders:
        for operation in order.operations:
            if operation.state is not OperationState.RUNNING:
                continue
            busy_until, _ = _projected(floor, scheduling, order, operation)
            for other in schedule.operations:
                if (
                    other.station_id == operation.station_id
                    and (other.work_order_id, other.sequence) != (order.id, operation.sequence)
                    and other.setup_start < busy_until
                ):
                    found.append(
                        f"{other.work_order_id}#{other.sequence} planned at {other.station_id} "
                        f"from {other.setup_start}, while {order.id}#{operation.sequence} runs "
                        f"there until {busy_until}"
                    )
    return found


def _merged(windows: Sequence[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def repair_violations(
    floor: plants.PlantFloor,
    schedule: PlantSchedule,
    scheduling: SchedulingSettings,
    triggers: Sequence[Trigger],
) -> list[str]:
    """What a repair keeps of the schedule before it, and how its ETAs say what changed."""
    previous = floor.previous
    assert previous is not None
    found = []
    expected, unsure = _expected_frozen(floor, schedule, scheduling)
    frozen = {
        (operation.work_order_id, operation.sequence)
        for operation in schedule.operations
        if operation.frozen and not operation.started and operation.work_order_id not in unsure
    }
    if frozen != set(expected):
        found.append(
            f"frozen {sorted(frozen)}, expected {sorted(expected)} (planned to start within "
            f"{scheduling.frozen_horizon_s} s, station up, order ready)"
        )
    for key, was in expected.items():
        now = schedule.operation(*key)
        if now is not None and (now.station_id, now.start) != (was.station_id, was.start):
            found.append(
                f"frozen {key} moved from {was.station_id} at {was.start} "
                f"to {now.station_id} at {now.start}"
            )
    change = timedelta(seconds=scheduling.eta_change_s)
    for order_id, eta in schedule.etas.items():
        before = previous.etas.get(order_id)
        if before is None or abs(eta.end_time - before.end_time) >= change:
            if eta.revision != schedule.revision or eta.triggers != tuple(triggers):
                found.append(f"{order_id}: its ETA moved, and names revision {eta.revision}")
        elif (eta.revision, eta.explanation) != (before.revision, before.explanation):
            found.append(f"{order_id}: its ETA stayed, and has a new explanation")
    return found


def _expected_frozen(
    floor: plants.PlantFloor, schedule: PlantSchedule, scheduling: SchedulingSettings
) -> tuple[dict[tuple[str, int], PlannedOperation], set[str]]:
    """The operations of the previous schedule a repair keeps: planned to start
    inside the frozen horizon, not before now, on a station still up and able, to
    work after the order's previous operation, which stays too, and clear of what
    runs now. And the orders for which that depends on the second a running
    operation the schedule leaves out is projected to end."""
    previous = floor.previous
    assert previous is not None
    stations = {station.id: station for station in floor.stations}
    soon = floor.now + timedelta(seconds=scheduling.frozen_horizon_s)
    # (earliest, latest) end: those in the schedule are checked with the rest of it.
    running_until = {
        operation.station_id: (operation.end, operation.end)
        for operation in schedule.operations
        if operation.started
    }
    for order in floor.orders:
        for operation in order.operations:
            if operation.state is OperationState.RUNNING:
                running_until.setdefault(
                    operation.station_id, _projected(floor, scheduling, order, operation)
                )
    expected: dict[tuple[str, int], PlannedOperation] = {}
    unsure: set[str] = set()
    for order in floor.orders:
        if order.id in schedule.unscheduled:
            continue
        ready = floor.now
        for operation in order.operations:
            if operation.state is OperationState.DONE:
                continue
            if operation.state is OperationState.RUNNING:
                ready = running_until[operation.station_id][1]
                continue
            was = previous.operation(order.id, operation.sequence)
            if (
                was is None
                or was.started
                or was.station_id in floor.down_since
                or operation.capability not in stations[was.station_id].capabilities
                # The setup may overlap the previous operation (see model.py); the work may not.
                or was.start < ready
                or not floor.now <= was.setup_start
                or was.start >= soon
            ):
                break
            busy_from, busy_until = running_until.get(was.station_id, (floor.now, floor.now))
            if busy_from <= was.setup_start < busy_until:
                unsure.add(order.id)
            if was.setup_start < busy_until:
                break
            expected[order.id, operation.sequence] = was
            ready = was.end
    return expected, unsure


def _projected(
    floor: plants.PlantFloor,
    scheduling: SchedulingSettings,
    order: WorkOrder,
    operation: Operation,
) -> tuple[datetime, datetime]:
    """The earliest and latest end of a running operation: projected from its counts
    at now, to the problem's second; where the station is down, after the repair assumed."""
    station = next(station for station in floor.stations if station.id == operation.station_id)
    earliest = plants.projected_end(order, operation, station, floor.now)
    latest = plants.projected_end(order, operation, station, floor.now + SECOND) + SECOND
    if operation.station_id in floor.down_since:
        repair = timedelta(seconds=scheduling.station_down_assumed_s)
        earliest, latest = earliest + repair, latest + repair
    return earliest, latest


# --- disruptions --------------------------------------------------------------------------


class Disruption(enum.Enum):
    STATION_DOWN = "a station goes down"
    RUSH_ORDER = "a rush order is released"
    CANCELLED = "an order is cancelled"
    SLOWER = "a running operation counted far fewer units than planned"


@st.composite
def disrupted(
    draw: st.DrawFn, floor: plants.PlantFloor, schedule: PlantSchedule
) -> tuple[plants.PlantFloor, list[Trigger], Disruption]:
    """The floor a few minutes later, after one event, with the schedule as the previous one."""
    now = floor.now + timedelta(
        seconds=draw(st.integers(1, 600)), microseconds=draw(st.integers(0, 999_999))
    )
    later = dataclasses.replace(floor, now=now, previous=schedule)
    running = [
        (order, operation)
        for order in floor.orders
        for operation in order.operations
        if operation.state is OperationState.RUNNING
    ]
    up = [station for station in floor.stations if station.id not in floor.down_since]
    possible = [Disruption.SLOWER] if running else []
    possible += [Disruption.STATION_DOWN] if up else []
    possible += [Disruption.CANCELLED, Disruption.RUSH_ORDER]
    disruption = draw(st.sampled_from(possible))
    if disruption is Disruption.STATION_DOWN:
        station = draw(st.sampled_from(up))
        since = now - timedelta(seconds=draw(st.integers(0, 300)))
        down = {**floor.down_since, station.id: since}
        trigger = Trigger(TriggerKind.STATION_DOWN, station.id, f"{station.name} went down", since)
        return dataclasses.replace(later, down_since=down), [trigger], disruption
    if disruption is Disruption.RUSH_ORDER:
        rush = draw(_orders("wo-rush", now, floor.stations, set(), progress=False))
        rush = dataclasses.replace(
            rush,
            due_time=now + timedelta(minutes=draw(st.integers(10, 120))),
            priority=draw(st.integers(800, 1000)),
        )
        trigger = Trigger(TriggerKind.WORK_ORDER_RELEASED, rush.id, "rush order released", now)
        return dataclasses.replace(later, orders=[*floor.orders, rush]), [trigger], disruption
    if disruption is Disruption.CANCELLED:
        gone = draw(st.sampled_from(floor.orders))
        kept = [order for order in floor.orders if order.id != gone.id]
        trigger = Trigger(TriggerKind.WORK_ORDER_CANCELLED, gone.id, f"{gone.id} cancelled", now)
        return dataclasses.replace(later, orders=kept), [trigger], disruption
    order, operation = draw(st.sampled_from(running))
    assert operation.start_time is not None
    producing_s = (now - operation.start_time).total_seconds() - operation.setup_time_s
    on_plan = max(0.0, producing_s / max(operation.ideal_cycle_time_s, 1.0))
    counted = min(operation.good_quantity, float(int(min(order.quantity, on_plan) / 10)))
    slow = dataclasses.replace(operation, good_quantity=counted)
    orders = [o.with_operation(slow) if o.id == order.id else o for o in floor.orders]
    trigger = Trigger(
        TriggerKind.SLOWER_THAN_PLANNED, order.id, f"{order.id} is slower than planned", now
    )
    return dataclasses.replace(later, orders=orders), [trigger], disruption


# --- the properties -------------------------------------------------------------------------

FIRST = [Trigger(TriggerKind.REQUESTED, PLANT, "a new schedule was asked for", BASE)]


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(floors(), st.sampled_from([900, 3600, 4 * 3600]), st.data())
def test_a_plan_and_its_repair_after_a_disruption_keep_every_rule_of_the_floor(
    floor: plants.PlantFloor, frozen_horizon_s: int, data: st.DataObject
) -> None:
    scheduling = QUICK.model_copy(update={"frozen_horizon_s": frozen_horizon_s})
    first = planned(floor, scheduling, revision=1, triggers=FIRST)

    assert violations(floor, first, scheduling) == []
    assert not any(operation.frozen and not operation.started for operation in first.operations)
    assert {eta.revision for eta in first.etas.values()} <= {1}
    assert all(eta.triggers == tuple(FIRST) for eta in first.etas.values())

    later, triggers, disruption = data.draw(disrupted(floor, first), label="disruption")
    second = planned(later, scheduling, revision=2, triggers=triggers)

    assert violations(later, second, scheduling) == [], disruption
    assert repair_violations(later, second, scheduling, triggers) == [], disruption
    if disruption is Disruption.CANCELLED:
        gone = triggers[0].subject_id
        assert gone not in second.etas
        assert all(operation.work_order_id != gone for operation in second.operations)


def test_a_solver_that_runs_out_of_time_still_returns_the_best_schedule_it_has() -> None:
    floor = _crowded_floor()
    scheduling = SchedulingSettings(time_limit_s=0.01, workers=1)

    schedule = planned(floor, scheduling, revision=1, triggers=FIRST)

    assert schedule.status is Status.FEASIBLE
    assert violations(floor, schedule, scheduling) == []
    assert len(schedule.operations) == sum(len(order.operations) for order in floor.orders)


def _crowded_floor() -> plants.PlantFloor:
    """Forty orders of four operations on six stations, two of each capability, on shifts."""
    now = BASE + timedelta(minutes=30)
    stations = [
        Station(
            id=f"s{number}",
            tenant_id=TENANT,
            line_id="line",
            plant_id=PLANT,
            name=f"Station {number}",
            description="",
            create_time=BASE,
            update_time=BASE,
            capabilities=(CAPABILITIES[number % 3],),
            ideal_cycle_time_s=float(10 + number * 7),
        )
        for number in range(6)
    ]
    shifts: list[Span] = []
    for day in range(30):
        start = BASE + timedelta(days=day)
        shifts += [
            (start, start + timedelta(hours=4)),
            (start + timedelta(hours=4, minutes=30), start + timedelta(hours=8)),
        ]
    orders = [
        WorkOrder(
            id=f"wo-{number:02}",
            tenant_id=TENANT,
            plant_id=PLANT,
            product_id="product",
            part_number=PARTS[number % 3],
            quantity=float(20 + number * 13 % 70),
            due_time=now + timedelta(hours=2 + number * 37 % 40),
            priority=number * 89 % 1000,
            state=WorkOrderState.RELEASED,
            create_time=BASE,
            operations=tuple(
                Operation(
                    sequence=step + 1,
                    name=f"step {step + 1}",
                    capability=CAPABILITIES[(number + step) % 3],
                    setup_time_s=float(60 * ((number + step) % 5)),
                    ideal_cycle_time_s=0.0,
                )
                for step in range(4)
            ),
        )
        for number in range(40)
    ]
    return plants.PlantFloor(
        tenant_id=TENANT,
        plant_id=PLANT,
        now=now,
        stations=stations,
        working={station.id: shifts for station in stations},
        planned_downtime={},
        orders=orders,
    )
