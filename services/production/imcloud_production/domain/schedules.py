"""Use cases of the scheduler: keeping each plant's schedule true as orders and
equipment change, and answering what the schedule says.

Events that change what is possible (a release, a cancellation, an operation
started or completed, a calendar or planned downtime change) leave a request
in the same transaction as the change itself; the scheduler's loop plans each
plant with requests again and removes them in the transaction that stores the
new schedule, so a crash between the two plans again rather than forgetting.
The watch looks at what no use case tells: stations going down or coming back,
and operations slower than planned. Solving happens outside any transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from imcloud_core.errors import FailedPrecondition, FieldViolation, InvalidArgument, Unavailable
from imcloud_core.ids import utcnow
from imcloud_core.logging import get_logger
from imcloud_core.paging import MAX_PAGE_SIZE, every_page
from imcloud_production.domain import calendar as calendars
from imcloud_production.domain import planning
from imcloud_production.domain import work_orders as orders
from imcloud_production.domain.catalog import EquipmentState, RoutingStep
from imcloud_production.domain.events import ScheduleChanged
from imcloud_production.domain.model import Plant, Station, not_found
from imcloud_production.domain.ports import ExecutionUnitOfWork
from imcloud_production.domain.scheduling import plant as plants
from imcloud_production.domain.scheduling import triggers
from imcloud_production.domain.scheduling import windows as maintenance
from imcloud_production.domain.scheduling.model import Status
from imcloud_production.domain.scheduling.plan import (
    Eta,
    PlannedOperation,
    PlantSchedule,
    Trigger,
    TriggerKind,
    time_text,
)
from imcloud_production.domain.work_orders import OperationState, WorkOrder, WorkOrderState
from imcloud_production.settings import SchedulingSettings

log = get_logger(__name__)

OPEN_ON_FLOOR = frozenset({WorkOrderState.RELEASED, WorkOrderState.RUNNING})
QUOTE_ID = "quote"
# The revision of a plan that is not stored: a quote's.
UNSTORED = 0

UnitOfWorkFactory = Callable[[], ExecutionUnitOfWork]


def plan_requested(
    unit_of_work: UnitOfWorkFactory, settings: SchedulingSettings
) -> list[PlantSchedule]:
    """Plans every plant with requests again; the schedules stored."""
    with unit_of_work() as uow:
        pending = uow.schedule_requests.pending()
    stored = []
    for tenant_id, plant_id in pending:
        schedule = _plan(unit_of_work, settings, tenant_id=tenant_id, plant_id=plant_id)
        if schedule is not None:
            stored.append(schedule)
    return stored


def refresh(
    unit_of_work: UnitOfWorkFactory, settings: SchedulingSettings, *, tenant_id: str, plant_id: str
) -> PlantSchedule:
    """Plans the plant from scratch now, with the full time limit."""
    trigger = Trigger(TriggerKind.REQUESTED, plant_id, "a new schedule was asked for", utcnow())
    with unit_of_work() as uow:
        planning.plant_of(uow, tenant_id, plant_id)
        triggers.requested(uow, tenant_id=tenant_id, plant_id=plant_id, trigger=trigger)
    schedule = _plan(unit_of_work, settings, tenant_id=tenant_id, plant_id=plant_id, repair=False)
    if schedule is None:
        # Another process stored a schedule first, with the request in it or about to be.
        with unit_of_work() as uow:
            schedule = uow.schedules.latest(tenant_id=tenant_id, plant_id=plant_id)
    if schedule is None:
        raise Unavailable("the plant could not be scheduled; ask again in a moment")
    return schedule


def watch(
    unit_of_work: UnitOfWorkFactory,
    settings: SchedulingSettings,
    *,
    now: datetime | None = None,
) -> None:
    """Requests a new schedule for every plant whose stations went down or came
    back, or whose running operations fell behind."""
    now = now or utcnow()
    with unit_of_work() as uow:
        watched = uow.schedules.with_work()
    for tenant_id, plant_id in watched:
        with unit_of_work() as uow:
            schedule = uow.schedules.latest(tenant_id=tenant_id, plant_id=plant_id)
            plant = uow.plants.get(tenant_id=tenant_id, resource_id=plant_id)
            if schedule is None or plant is None:
                continue
            stations = planning.all_stations(uow, tenant_id=tenant_id, plant_id=plant_id)
            down = _down_since(uow, [station.id for station in stations])
            running = _open_orders(uow, tenant_id, plant_id)
            found = _station_triggers(schedule, stations, down, now, settings)
            found += _progress_triggers(schedule, stations, running, now, settings)
            for trigger in found:
                triggers.requested(uow, tenant_id=tenant_id, plant_id=plant_id, trigger=trigger)


def get_schedule(
    uow: ExecutionUnitOfWork,
    *,
    tenant_id: str,
    plant_id: str,
    line_id: str = "",
    station_id: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
) -> PlantSchedule | None:
    """The plant's schedule with only the operations asked for; None before the first."""
    with uow:
        planning.plant_of(uow, tenant_id, plant_id)
        schedule = uow.schedules.latest(tenant_id=tenant_id, plant_id=plant_id)
    if schedule is None:
        return None
    kept = tuple(
        operation
        for operation in schedule.operations
        if (not line_id or operation.line_id == line_id)
        and (not station_id or operation.station_id == station_id)
        and (start is None or operation.end > start)
        and (end is None or operation.setup_start < end)
    )
    return dataclasses.replace(schedule, operations=kept)


def get_eta(uow: ExecutionUnitOfWork, *, tenant_id: str, work_order_id: str) -> Eta:
    with uow:
        order = uow.work_orders.get(tenant_id=tenant_id, work_order_id=work_order_id)
        if order is None:
            raise not_found("work order", work_order_id)
        if order.state not in OPEN_ON_FLOOR:
            raise FailedPrecondition(
                f"work order {order.id!r} is {order.state}: only released and running "
                "work orders are scheduled"
            )
        schedule = uow.schedules.latest(tenant_id=tenant_id, plant_id=order.plant_id)
    if schedule is not None:
        if order.id in schedule.etas:
            return schedule.etas[order.id]
        if order.id in schedule.unscheduled:
            raise FailedPrecondition(
                f"work order {order.id!r} cannot be scheduled: {schedule.unscheduled[order.id]}"
            )
    # Not UNAVAILABLE: the gateway reads that as the service being down.
    raise FailedPrecondition(
        f"work order {order.id!r} is not scheduled yet; the scheduler plans within "
        "seconds of a release, ask again in a moment"
    )


@dataclass(frozen=True)
class Quote:
    eta: Eta
    status: Status
    # Released orders that would end later, as they would be planned.
    delayed: tuple[Eta, ...]
    operations: tuple[PlannedOperation, ...]


def quote(
    unit_of_work: UnitOfWorkFactory,
    settings: SchedulingSettings,
    *,
    tenant_id: str,
    plant_id: str,
    product_id: str,
    quantity: float,
    due_time: datetime | None,
    priority: int,
    routing: Sequence[RoutingStep] = (),
) -> Quote:
    """When an order would be done if it were released now, with ``routing``
    instead of the product's when given; changes nothing."""
    now = utcnow()
    if due_time is not None and due_time <= now:
        raise InvalidArgument(
            "the due time has passed",
            violations=(FieldViolation("due_time", "must be in the future"),),
        )
    with unit_of_work() as uow:
        plant = planning.plant_of(uow, tenant_id, plant_id)
        floor = _floor(uow, settings, plant=plant, now=now)
        product = uow.products.get(tenant_id=tenant_id, product_id=product_id)
    if product is None:
        raise InvalidArgument(
            f"product {product_id!r} not found",
            violations=(FieldViolation("product_id", "no product with this id"),),
        )
    planned = orders.checked_new(
        WorkOrder(
            id=QUOTE_ID,
            tenant_id=tenant_id,
            plant_id=plant_id,
            product_id=product.id,
            part_number=product.part_number,
            quantity=quantity,
            # Without a due time it is never late, and goes where it delays nobody.
            due_time=due_time or now + timedelta(days=settings.horizon_days),
            priority=priority,
            state=WorkOrderState.PLANNED,
            create_time=now,
            routing=tuple(routing),
        )
    )
    order = orders.released(
        planned, product, offered=planning.offered_capabilities(floor.stations), now=now
    )
    trigger = Trigger(
        TriggerKind.REQUESTED,
        QUOTE_ID,
        f"a quote for {quantity:g} x {product.part_number} released now",
        now,
    )
    floor = dataclasses.replace(floor, orders=[*floor.orders, order])
    translation = plants.translated(floor, settings)
    if QUOTE_ID in translation.unscheduled:
        raise FailedPrecondition(
            f"the order could not be scheduled: {translation.unscheduled[QUOTE_ID]}"
        )
    solved = plants.solved(translation, settings, repair=True)
    if not solved.found:
        raise FailedPrecondition(f"the plant cannot be scheduled with the order: {solved.reason}")
    schedule = plants.schedule_of(
        floor,
        translation,
        solved,
        revision=UNSTORED,
        triggers=[trigger],
        settings=settings,
        undated=() if due_time else (QUOTE_ID,),
    )
    before = floor.previous.etas if floor.previous else {}
    slack = timedelta(seconds=settings.eta_change_s)
    delayed = tuple(
        new
        for order_id, new in schedule.etas.items()
        if order_id in before and new.end_time - before[order_id].end_time >= slack
    )
    return Quote(
        eta=schedule.etas[QUOTE_ID],
        status=solved.status,
        delayed=delayed,
        operations=tuple(o for o in schedule.operations if o.work_order_id == QUOTE_ID),
    )


# Suggestions ask for at most this many windows; 0 means the default.
MAX_WINDOWS = 10
DEFAULT_WINDOWS = 3
MAX_MAINTENANCE_S = 31 * 86_400


@dataclass(frozen=True)
class MaintenanceWindows:
    windows: list[maintenance.Window]
    # The schedule they were read from; UNSTORED before the plant's first.
    revision: int


def suggest_maintenance_windows(
    unit_of_work: UnitOfWorkFactory,
    settings: SchedulingSettings,
    *,
    tenant_id: str,
    station_id: str,
    duration_s: int,
    not_after: datetime,
    count: int,
) -> MaintenanceWindows:
    """Where maintenance of the station costs production least before not_after,
    on the plant's current schedule; changes nothing."""
    now = utcnow()
    violations = []
    duration = timedelta(seconds=max(0, min(duration_s, MAX_MAINTENANCE_S + 1)))
    if not 60 <= duration_s <= MAX_MAINTENANCE_S:
        violations.append(FieldViolation("duration_s", "must be 60 s .. 31 days"))
    elif not_after < now + duration:
        violations.append(FieldViolation("not_after", "must leave the duration after now"))
    if not 0 <= count <= MAX_WINDOWS:
        violations.append(FieldViolation("count", f"must be 1..{MAX_WINDOWS}, or 0 for 3"))
    if violations:
        raise InvalidArgument(
            "the maintenance window request is not valid", violations=tuple(violations)
        )
    # Beyond the horizon nothing is planned: it is not free, only unknown.
    end = min(not_after, now + timedelta(days=settings.horizon_days))
    with unit_of_work() as uow:
        station = uow.stations.get(tenant_id=tenant_id, resource_id=station_id)
        if station is None:
            raise not_found("station", station_id)
        plant = planning.plant_of(uow, tenant_id, station.plant_id)
        history = planning.history_of(uow, plant)
        working = calendars.history_windows(history, now, end) if history.versions else None
        stops = [
            (item.start_time, item.end_time)
            for item in uow.planned_downtimes.overlapping(
                tenant_id=tenant_id, plant_id=plant.id, start=now, end=end
            )
            if item.applies_to(station.id)
        ]
        schedule = uow.schedules.latest(tenant_id=tenant_id, plant_id=plant.id)
    plan = maintenance.StationPlan(
        station_id=station.id,
        plant_id=plant.id,
        now=now,
        operations=[o for o in schedule.operations if o.station_id == station.id]
        if schedule
        else [],
        working=working,
        planned_stops=stops,
        etas=schedule.etas if schedule else {},
        keep_until=now + timedelta(seconds=settings.frozen_horizon_s),
    )
    return MaintenanceWindows(
        maintenance.suggested(
            plan, duration=duration, not_after=end, count=count or DEFAULT_WINDOWS
        ),
        schedule.revision if schedule else UNSTORED,
    )


# -- private -------------------------------------------------------------------------


def _plan(
    unit_of_work: UnitOfWorkFactory,
    settings: SchedulingSettings,
    *,
    tenant_id: str,
    plant_id: str,
    repair: bool = True,
) -> PlantSchedule | None:
    """Plans the plant for its requests; None when another process stored a
    schedule meanwhile (its requests stay for the next round)."""
    now = utcnow()
    with unit_of_work() as uow:
        requests = uow.schedule_requests.of(tenant_id=tenant_id, plant_id=plant_id)
        plant = uow.plants.get(tenant_id=tenant_id, resource_id=plant_id)
        if plant is None:
            if requests:
                uow.schedule_requests.remove(
                    tenant_id=tenant_id, plant_id=plant_id, up_to=requests[-1][0]
                )
            return None
        floor = _floor(uow, settings, plant=plant, now=now)
    translation = plants.translated(floor, settings)
    solved = plants.solved(translation, settings, repair=repair and floor.previous is not None)
    revision = floor.previous.revision + 1 if floor.previous else 1
    triggers = [trigger for _, trigger in requests]
    if floor.previous is not None:
        # A plan made for another reason can be the first to see a station go down or
        # come back; the watcher compares with the last plan, so it would never say so.
        named = {(trigger.kind, trigger.subject_id) for trigger in triggers}
        triggers += [
            change
            for change in _station_changes(floor.previous, floor.stations, floor.down_since, now)
            if (change.kind, change.subject_id) not in named
        ]
    schedule = plants.schedule_of(
        floor, translation, solved, revision=revision, triggers=triggers, settings=settings
    )
    with unit_of_work() as uow:
        if not uow.schedules.put(schedule):
            return None
        if requests:
            uow.schedule_requests.remove(
                tenant_id=tenant_id, plant_id=plant_id, up_to=requests[-1][0]
            )
        changed = tuple(eta for eta in schedule.etas.values() if eta.revision == revision)
        uow.record(ScheduleChanged(schedule, changed, now))
    log.info(
        "plant scheduled",
        tenant_id=tenant_id,
        plant_id=plant_id,
        revision=revision,
        status=str(schedule.status.value),
        method=schedule.method,
        operations=len(schedule.operations),
        changed_etas=len(changed),
        solve_time_s=round(schedule.solve_time_s, 3),
    )
    return schedule


def _floor(
    uow: ExecutionUnitOfWork, settings: SchedulingSettings, *, plant: Plant, now: datetime
) -> plants.PlantFloor:
    tenant_id, plant_id = plant.tenant_id, plant.id
    stations = planning.all_stations(uow, tenant_id=tenant_id, plant_id=plant_id)
    end = now + timedelta(days=settings.horizon_days)
    history = planning.history_of(uow, plant)
    working = None
    if history.versions:
        windows = calendars.history_windows(history, now, end)
        working = {station.id: windows for station in stations}
    booked = uow.planned_downtimes.overlapping(
        tenant_id=tenant_id, plant_id=plant_id, start=now, end=end
    )
    planned_downtime = {
        station.id: [
            plants.Blocked(
                item.start_time,
                item.end_time,
                f"planned downtime ({item.kind}{': ' + item.reason if item.reason else ''}) "
                f"until {time_text(item.end_time)}",
            )
            for item in booked
            if item.applies_to(station.id)
        ]
        for station in stations
    }
    return plants.PlantFloor(
        tenant_id=tenant_id,
        plant_id=plant_id,
        now=now,
        stations=stations,
        working=working,
        planned_downtime=planned_downtime,
        orders=_open_orders(uow, tenant_id, plant_id),
        down_since=_down_since(uow, [station.id for station in stations]),
        previous=uow.schedules.latest(tenant_id=tenant_id, plant_id=plant_id),
    )


def _open_orders(uow: ExecutionUnitOfWork, tenant_id: str, plant_id: str) -> list[WorkOrder]:
    return every_page(
        lambda token: uow.work_orders.page(
            tenant_id=tenant_id,
            page_size=MAX_PAGE_SIZE,
            page_token=token,
            states=OPEN_ON_FLOOR,
            plant_id=plant_id,
        )
    )


def _down_since(uow: ExecutionUnitOfWork, station_ids: Sequence[str]) -> dict[str, datetime]:
    """Stations with a machine reporting down, since the earliest such report."""
    down: dict[str, datetime] = {}
    for track in uow.tracks.at_stations(station_ids):
        if track.state is EquipmentState.DOWN:
            since = datetime.fromtimestamp(track.since_ms / 1000, tz=UTC)
            down[track.station_id] = min(down.get(track.station_id, since), since)
    return down


def _station_triggers(
    schedule: PlantSchedule,
    stations: Sequence[Station],
    down: dict[str, datetime],
    now: datetime,
    settings: SchedulingSettings,
) -> list[Trigger]:
    names = {station.id: station.name for station in stations}
    triggers = _station_changes(schedule, stations, down, now)
    soon = now + timedelta(seconds=settings.frozen_horizon_s)
    for station_id in set(down) & set(schedule.down_stations):
        waiting = any(
            operation.station_id == station_id
            and not operation.started
            and operation.setup_start < soon
            for operation in schedule.operations
        )
        if waiting:
            triggers.append(
                Trigger(
                    TriggerKind.STATION_DOWN,
                    station_id,
                    f"station {names[station_id]} is still down, since "
                    f"{time_text(down[station_id])}",
                    now,
                )
            )
    return triggers


def _station_changes(
    schedule: PlantSchedule,
    stations: Sequence[Station],
    down: Mapping[str, datetime],
    now: datetime,
) -> list[Trigger]:
    """The stations that went down or came back since ``schedule`` was made."""
    names = {station.id: station.name for station in stations}
    triggers = []
    for station_id, since in down.items():
        if station_id not in schedule.down_stations and station_id in names:
            triggers.append(
                Trigger(
                    TriggerKind.STATION_DOWN,
                    station_id,
                    f"station {names[station_id]} went down at {time_text(since)}",
                    since,
                )
            )
    for station_id in schedule.down_stations:
        if station_id not in down and station_id in names:
            triggers.append(
                Trigger(
                    TriggerKind.STATION_BACK,
                    station_id,
                    f"station {names[station_id]} runs again",
                    now,
                )
            )
    return triggers


def _progress_triggers(
    schedule: PlantSchedule,
    stations: Sequence[Station],
    open_orders: Sequence[WorkOrder],
    now: datetime,
    settings: SchedulingSettings,
) -> list[Trigger]:
    by_id = {station.id: station for station in stations}
    tolerance = timedelta(seconds=settings.slower_tolerance_s)
    triggers = []
    for order in open_orders:
        for operation in order.operations:
            if operation.state is not OperationState.RUNNING:
                continue
            planned = schedule.operation(order.id, operation.sequence)
            station = by_id.get(operation.station_id)
            if planned is None or station is None:
                continue
            projected = plants.projected_end(order, operation, station, now)
            if projected - planned.end > tolerance:
                triggers.append(
                    Trigger(
                        TriggerKind.SLOWER_THAN_PLANNED,
                        order.id,
                        f"operation {operation.sequence} of work order {order.id} at "
                        f"{station.name} is slower than planned: {operation.good_quantity:g} "
                        f"of {order.quantity:g} good, projected to end "
                        f"{time_text(projected)} instead of {time_text(planned.end)}",
                        now,
                    )
                )
    return triggers
