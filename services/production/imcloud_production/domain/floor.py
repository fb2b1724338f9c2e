"""Use cases of the shop floor: work orders through their life, and quality records."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime

from imcloud_core.errors import FailedPrecondition, FieldViolation, InvalidArgument
from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_production.domain import work_orders as orders
from imcloud_production.domain.catalog import BomLine, Product, RoutingStep
from imcloud_production.domain.events import WorkOrderChange, WorkOrderChanged
from imcloud_production.domain.execution import QualityRecord, RunningOperation
from imcloud_production.domain.model import Station, not_found
from imcloud_production.domain.planning import all_stations, offered_capabilities
from imcloud_production.domain.ports import ExecutionUnitOfWork, RecipeTarget
from imcloud_production.domain.scheduling import triggers
from imcloud_production.domain.scheduling.plan import Trigger
from imcloud_production.domain.work_orders import (
    OperationState,
    RecipeDelivery,
    WorkOrder,
    WorkOrderState,
)

DEFECT_CODE_MAX = 50
# A customer order's work order names the customer's reference in its note, this much of it.
CUSTOMER_REFERENCE_SHOWN = 200
NOTE_MAX = 500


def create_work_order(
    uow: ExecutionUnitOfWork,
    *,
    tenant_id: str,
    product_id: str,
    plant_id: str,
    quantity: float,
    due_time: datetime,
    priority: int,
    note: str,
) -> WorkOrder:
    with uow:
        product = _product_and_plant(uow, tenant_id, product_id, plant_id)
        order = orders.checked_new(
            _planned(tenant_id, product, plant_id, quantity, due_time, priority=priority, note=note)
        )
        uow.work_orders.add(order)
        uow.record(WorkOrderChanged(WorkOrderChange.CREATED, order, order.create_time))
        return order


def place_customer_order(
    uow: ExecutionUnitOfWork,
    *,
    tenant_id: str,
    customer_order_id: str,
    customer_reference: str,
    product_id: str,
    plant_id: str,
    quantity: float,
    due_time: datetime,
    bom: Sequence[BomLine],
    routing: Sequence[RoutingStep],
) -> WorkOrder:
    """The work order that makes a customer order, released at once when it can be;
    one that cannot (a capability missing, due already) stays planned and says why
    in its note. A customer order placed again gets the work order it has."""
    with uow:
        existing = uow.work_orders.of_customer_order(
            tenant_id=tenant_id, customer_order_id=customer_order_id
        )
        if existing is not None:
            return existing
        product = _product_and_plant(uow, tenant_id, product_id, plant_id)
        note = f"customer order {customer_order_id}"
        if customer_reference:
            note += f" ({customer_reference[:CUSTOMER_REFERENCE_SHOWN]})"
        order = orders.checked_new(
            dataclasses.replace(
                _planned(tenant_id, product, plant_id, quantity, due_time, priority=0, note=note),
                customer_order_id=customer_order_id,
                bom=tuple(bom),
                routing=tuple(routing),
            )
        )
        now = utcnow()
        try:
            released: WorkOrder | None = _released(uow, order, product, now)
        except FailedPrecondition as why:
            order = dataclasses.replace(order, note=f"{note}; not released: {why.message}")
            released = None
        uow.work_orders.add(order)
        uow.record(WorkOrderChanged(WorkOrderChange.CREATED, order, now))
        if released is None:
            return order
        _replan(uow, released, triggers.released_trigger(released, now))
        return _changed(uow, released, WorkOrderChange.RELEASED, now)


def cancel_customer_order(
    uow: ExecutionUnitOfWork, *, tenant_id: str, customer_order_id: str, reason: str
) -> WorkOrder | None:
    """Cancels the customer order's work order if it is still open; None when it
    has none (or it is done with already)."""
    with uow:
        order = uow.work_orders.of_customer_order(
            tenant_id=tenant_id, customer_order_id=customer_order_id, for_update=True
        )
        if order is None or order.state not in orders.OPEN:
            return None
        why = reason.strip()[: orders.REASON_MAX] or "the customer order was cancelled"
        return _cancel(uow, order, why)


def _product_and_plant(
    uow: ExecutionUnitOfWork, tenant_id: str, product_id: str, plant_id: str
) -> Product:
    product = uow.products.get(tenant_id=tenant_id, product_id=product_id)
    violations = []
    if product is None:
        violations.append(FieldViolation("product_id", "no product with this id"))
    if uow.plants.get(tenant_id=tenant_id, resource_id=plant_id) is None:
        violations.append(FieldViolation("plant_id", "no plant with this id"))
    if violations:
        raise InvalidArgument("the work order is not valid", violations=tuple(violations))
    assert product is not None
    return product


def _planned(
    tenant_id: str,
    product: Product,
    plant_id: str,
    quantity: float,
    due_time: datetime,
    *,
    priority: int,
    note: str,
) -> WorkOrder:
    return WorkOrder(
        id=new_id(),
        tenant_id=tenant_id,
        plant_id=plant_id,
        product_id=product.id,
        part_number=product.part_number,
        quantity=quantity,
        due_time=due_time,
        priority=priority,
        state=WorkOrderState.PLANNED,
        create_time=utcnow(),
        note=note,
    )


def get_work_order(uow: ExecutionUnitOfWork, *, tenant_id: str, work_order_id: str) -> WorkOrder:
    with uow:
        return _order(uow, tenant_id, work_order_id)


def list_work_orders(
    uow: ExecutionUnitOfWork,
    *,
    tenant_id: str,
    states: Collection[WorkOrderState],
    plant_id: str,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[WorkOrder], str]:
    with uow:
        return uow.work_orders.page(
            tenant_id=tenant_id,
            page_size=page_size(requested_page_size),
            page_token=page_token,
            states=states,
            plant_id=plant_id,
        )


def release_work_order(
    uow: ExecutionUnitOfWork, *, tenant_id: str, work_order_id: str
) -> WorkOrder:
    with uow:
        order = _order(uow, tenant_id, work_order_id, for_update=True)
        product = uow.products.get(tenant_id=tenant_id, product_id=order.product_id)
        if product is None:
            raise FailedPrecondition(f"product {order.product_id!r} no longer exists")
        now = utcnow()
        released = _released(uow, order, product, now)
        _replan(uow, released, triggers.released_trigger(released, now))
        return _changed(uow, released, WorkOrderChange.RELEASED, now)


def _released(
    uow: ExecutionUnitOfWork, order: WorkOrder, product: Product, now: datetime
) -> WorkOrder:
    """The order released, or FailedPrecondition saying why it cannot be; writes nothing."""
    offered = offered_capabilities(
        all_stations(uow, tenant_id=order.tenant_id, plant_id=order.plant_id)
    )
    if order.due_time <= now:
        raise FailedPrecondition(
            f"work order {order.id!r} is due {order.due_time.isoformat()}, before its "
            "release; cancel it and plan it again with a due time ahead"
        )
    return orders.released(order, product, offered=offered, now=now)


def start_operation(
    uow: ExecutionUnitOfWork,
    recipes: RecipeTarget,
    *,
    tenant_id: str,
    work_order_id: str,
    sequence: int,
    station_id: str,
) -> WorkOrder:
    """An operation with a recipe first gives it to every machine at the station
    (outside the transaction: the machines' owner is another service), then
    starts waiting for them to apply it; one without runs at once."""
    with uow:
        order, station, busy_with = _start_context(uow, tenant_id, work_order_id, station_id)
        operation = orders.startable(order, sequence, station, busy_with=busy_with)
        machines = (
            sorted(
                p.equipment_id
                for p in uow.placements.at_station(tenant_id=tenant_id, station_id=station.id)
            )
            if operation.recipe_json
            else []
        )
    # No machine: nothing is sent, and operation_started refuses the start below.
    given = {
        machine: recipes.apply(
            tenant_id=tenant_id, equipment_id=machine, recipe_json=operation.recipe_json
        )
        for machine in machines
    }
    with uow:
        # Locked first, the same order a reported apply takes: one reported since
        # the call above is either read here or finds the deliveries stored.
        applied = uow.placements.applied_versions(tenant_id=tenant_id, equipment_ids=machines)
        order, station, busy_with = _start_context(uow, tenant_id, work_order_id, station_id)
        now = utcnow()
        deliveries = [
            RecipeDelivery(
                equipment_id=machine,
                desired_version=recipe.desired_version,
                applied_time=(
                    now
                    if max(recipe.applied_version, applied.get(machine, 0))
                    >= recipe.desired_version
                    else None
                ),
            )
            for machine, recipe in given.items()
        ]
        was_running = order.state is WorkOrderState.RUNNING
        started = orders.operation_started(
            order, sequence, station, busy_with=busy_with, now=now, deliveries=deliveries
        )
        uow.running_operations.start(
            RunningOperation(
                tenant_id=tenant_id,
                station_id=station.id,
                work_order_id=order.id,
                sequence=sequence,
                ideal_cycle_time_s=started.operation(sequence).ideal_cycle_time_s,
            )
        )
        return _operation_moved(uow, started, sequence, station.name, now, was_running=was_running)


def recipe_applied(
    uow: ExecutionUnitOfWork,
    *,
    tenant_id: str,
    equipment_id: str,
    applied_version: int,
    now: datetime,
) -> WorkOrder | None:
    """A machine applied its desired state up to ``applied_version``: the operation
    starting at its station runs once every machine there applied its recipe. The
    order changed, or None."""
    with uow:
        placement = uow.placements.record_applied(
            tenant_id=tenant_id, equipment_id=equipment_id, applied_version=applied_version
        )
        if placement is None:
            return None
        running = uow.running_operations.at([placement.station_id]).get(placement.station_id)
        if running is None or running.tenant_id != tenant_id:
            return None
        order = uow.work_orders.get(
            tenant_id=tenant_id, work_order_id=running.work_order_id, for_update=True
        )
        if order is None:
            return None
        was_running = order.state is WorkOrderState.RUNNING
        applied = orders.recipe_applied(
            order,
            running.sequence,
            equipment_id=equipment_id,
            applied_version=applied_version,
            now=now,
        )
        if applied is order:
            return None
        if applied.operation(running.sequence).state is OperationState.STARTING:
            uow.work_orders.update(applied)
            return applied
        station = uow.stations.get(tenant_id=tenant_id, resource_id=placement.station_id)
        where = station.name if station else placement.station_id
        return _operation_moved(uow, applied, running.sequence, where, now, was_running=was_running)


def _start_context(
    uow: ExecutionUnitOfWork, tenant_id: str, work_order_id: str, station_id: str
) -> tuple[WorkOrder, Station, str | None]:
    """The order (locked), the station, and what the station runs already, if anything."""
    order = _order(uow, tenant_id, work_order_id, for_update=True)
    station = uow.stations.get(tenant_id=tenant_id, resource_id=station_id)
    if station is None:
        raise InvalidArgument(
            f"station {station_id!r} not found",
            violations=(FieldViolation("station_id", "no station with this id"),),
        )
    busy = uow.running_operations.at([station.id]).get(station.id)
    busy_with = f"operation {busy.sequence} of work order {busy.work_order_id!r}" if busy else None
    return order, station, busy_with


def _operation_moved(
    uow: ExecutionUnitOfWork,
    order: WorkOrder,
    sequence: int,
    station_name: str,
    now: datetime,
    *,
    was_running: bool,
) -> WorkOrder:
    """Stores an operation's start: the scheduler is told, and the order's event
    says it started when it began to run (else it progressed)."""
    change = (
        WorkOrderChange.STARTED
        if not was_running and order.state is WorkOrderState.RUNNING
        else WorkOrderChange.PROGRESSED
    )
    _replan(uow, order, triggers.operation_trigger(order, sequence, station_name, now))
    return _changed(uow, order, change, now)


def complete_operation(
    uow: ExecutionUnitOfWork, *, tenant_id: str, work_order_id: str, sequence: int
) -> WorkOrder:
    with uow:
        order = _order(uow, tenant_id, work_order_id, for_update=True)
        now = utcnow()
        return _progressed(uow, orders.operation_completed(order, sequence, now=now), sequence, now)


def report_counts(
    uow: ExecutionUnitOfWork,
    *,
    tenant_id: str,
    work_order_id: str,
    sequence: int,
    good: float,
    scrap: float,
) -> WorkOrder:
    with uow:
        order = _order(uow, tenant_id, work_order_id, for_update=True)
        now = utcnow()
        reported = orders.counts_reported(order, sequence, good=good, scrap=scrap, now=now)
        return _progressed(uow, reported, sequence, now)


def _progressed(
    uow: ExecutionUnitOfWork, order: WorkOrder, sequence: int, now: datetime
) -> WorkOrder:
    """Stores an operation's progress; one that is done leaves its station, and
    the scheduler is told."""
    operation = order.operation(sequence)
    if operation.state is not OperationState.DONE:
        return _changed(uow, order, WorkOrderChange.PROGRESSED, now)
    uow.running_operations.stop(station_id=operation.station_id)
    station = uow.stations.get(tenant_id=order.tenant_id, resource_id=operation.station_id)
    where = station.name if station else operation.station_id
    _replan(uow, order, triggers.operation_trigger(order, sequence, where, now))
    change = (
        WorkOrderChange.COMPLETED
        if order.state is WorkOrderState.COMPLETED
        else WorkOrderChange.PROGRESSED
    )
    return _changed(uow, order, change, now)


def cancel_work_order(
    uow: ExecutionUnitOfWork, *, tenant_id: str, work_order_id: str, reason: str
) -> WorkOrder:
    with uow:
        return _cancel(uow, _order(uow, tenant_id, work_order_id, for_update=True), reason)


def _cancel(uow: ExecutionUnitOfWork, order: WorkOrder, reason: str) -> WorkOrder:
    now = utcnow()
    cancelled = orders.cancelled(order, reason=reason, now=now)
    for operation in order.operations:
        if operation.at_station:
            uow.running_operations.stop(station_id=operation.station_id)
    if order.state is not WorkOrderState.PLANNED:
        _replan(uow, cancelled, triggers.cancelled_trigger(cancelled, now))
    return _changed(uow, cancelled, WorkOrderChange.CANCELLED, now)


def counted_at_stations(
    uow: ExecutionUnitOfWork, counts: dict[str, tuple[float, float]], *, now: datetime
) -> None:
    """Units machines counted, by station: they go to the operation each station
    runs, inside the caller's transaction."""
    running = uow.running_operations.at(list(counts))
    for station_id, (good, scrap) in counts.items():
        operation = running.get(station_id)
        if operation is None or good + scrap <= 0:
            continue
        order = uow.work_orders.get(
            tenant_id=operation.tenant_id, work_order_id=operation.work_order_id, for_update=True
        )
        if order is None or order.state is not WorkOrderState.RUNNING:
            continue
        counted = orders.counted(order, operation.sequence, good=good, scrap=scrap, now=now)
        if counted is not order:
            _progressed(uow, counted, operation.sequence, now)


# -- quality ------------------------------------------------------------------------


def record_quality(uow: ExecutionUnitOfWork, *, record: QualityRecord) -> QualityRecord:
    violations = []
    if not 1 <= len(record.defect_code.strip()) <= DEFECT_CODE_MAX:
        violations.append(FieldViolation("defect_code", f"1..{DEFECT_CODE_MAX} characters"))
    if not 0 < record.quantity <= orders.QUANTITY_MAX:
        violations.append(FieldViolation("quantity", "over 0"))
    if len(record.note) > NOTE_MAX:
        violations.append(FieldViolation("note", f"at most {NOTE_MAX} characters"))
    if violations:
        raise InvalidArgument("the quality record is not valid", violations=tuple(violations))
    with uow:
        order = uow.work_orders.get(tenant_id=record.tenant_id, work_order_id=record.work_order_id)
        if order is None:
            raise InvalidArgument(
                f"work order {record.work_order_id!r} not found",
                violations=(FieldViolation("work_order_id", "no work order with this id"),),
            )
        operation = order.operation(record.sequence)
        if operation.state is OperationState.PENDING:
            raise FailedPrecondition(f"operation {record.sequence} has not started")
        stored = dataclasses.replace(
            record,
            id=new_id(),
            defect_code=record.defect_code.strip(),
            station_id=operation.station_id,
            create_time=utcnow(),
        )
        uow.quality_records.add(stored)
        return stored


def list_quality_records(
    uow: ExecutionUnitOfWork,
    *,
    tenant_id: str,
    work_order_id: str,
    station_id: str,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[QualityRecord], str]:
    with uow:
        return uow.quality_records.page(
            tenant_id=tenant_id,
            page_size=page_size(requested_page_size),
            page_token=page_token,
            work_order_id=work_order_id,
            station_id=station_id,
        )


def _order(
    uow: ExecutionUnitOfWork, tenant_id: str, work_order_id: str, *, for_update: bool = False
) -> WorkOrder:
    order = uow.work_orders.get(
        tenant_id=tenant_id, work_order_id=work_order_id, for_update=for_update
    )
    if order is None:
        raise not_found("work order", work_order_id)
    return order


def _replan(uow: ExecutionUnitOfWork, order: WorkOrder, trigger: Trigger) -> None:
    triggers.requested(uow, tenant_id=order.tenant_id, plant_id=order.plant_id, trigger=trigger)


def _changed(
    uow: ExecutionUnitOfWork, order: WorkOrder, change: WorkOrderChange, now: datetime
) -> WorkOrder:
    uow.work_orders.update(order)
    uow.record(WorkOrderChanged(change, order, now))
    return order
