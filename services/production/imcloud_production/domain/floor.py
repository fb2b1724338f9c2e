"""Use cases of the shop floor: work orders through their life, and quality records."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import datetime

from imcloud_core.errors import FailedPrecondition, FieldViolation, InvalidArgument
from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_production.domain import work_orders as orders
from imcloud_production.domain.events import WorkOrderChange, WorkOrderChanged
from imcloud_production.domain.execution import QualityRecord, RunningOperation
from imcloud_production.domain.model import not_found
from imcloud_production.domain.planning import all_stations, offered_capabilities
from imcloud_production.domain.ports import ExecutionUnitOfWork
from imcloud_production.domain.scheduling import triggers
from imcloud_production.domain.scheduling.plan import Trigger
from imcloud_production.domain.work_orders import OperationState, WorkOrder, WorkOrderState

DEFECT_CODE_MAX = 50
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
        product = uow.products.get(tenant_id=tenant_id, product_id=product_id)
        violations = []
        if product is None:
            violations.append(FieldViolation("product_id", "no product with this id"))
        if uow.plants.get(tenant_id=tenant_id, resource_id=plant_id) is None:
            violations.append(FieldViolation("plant_id", "no plant with this id"))
        if violations:
            raise InvalidArgument("the work order is not valid", violations=tuple(violations))
        assert product is not None
        order = orders.checked_new(
            WorkOrder(
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
        )
        uow.work_orders.add(order)
        return order


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
        offered = offered_capabilities(
            all_stations(uow, tenant_id=tenant_id, plant_id=order.plant_id)
        )
        now = utcnow()
        if order.due_time <= now:
            raise FailedPrecondition(
                f"work order {order.id!r} is due {order.due_time.isoformat()}, before its "
                "release; cancel it and plan it again with a due time ahead"
            )
        released = orders.released(order, product, offered=offered, now=now)
        _replan(uow, released, triggers.released_trigger(released, now))
        return _changed(uow, released, WorkOrderChange.RELEASED, now)


def start_operation(
    uow: ExecutionUnitOfWork, *, tenant_id: str, work_order_id: str, sequence: int, station_id: str
) -> WorkOrder:
    with uow:
        order = _order(uow, tenant_id, work_order_id, for_update=True)
        station = uow.stations.get(tenant_id=tenant_id, resource_id=station_id)
        if station is None:
            raise InvalidArgument(
                f"station {station_id!r} not found",
                violations=(FieldViolation("station_id", "no station with this id"),),
            )
        busy = uow.running_operations.at([station.id]).get(station.id)
        busy_with = (
            f"operation {busy.sequence} of work order {busy.work_order_id!r}" if busy else None
        )
        now = utcnow()
        was_running = order.state is WorkOrderState.RUNNING
        started = orders.operation_started(order, sequence, station, busy_with=busy_with, now=now)
        operation = started.operation(sequence)
        uow.running_operations.start(
            RunningOperation(
                tenant_id=tenant_id,
                station_id=station.id,
                work_order_id=order.id,
                sequence=sequence,
                ideal_cycle_time_s=operation.ideal_cycle_time_s,
            )
        )
        change = WorkOrderChange.PROGRESSED if was_running else WorkOrderChange.STARTED
        _replan(uow, started, triggers.operation_trigger(started, sequence, station.name, now))
        return _changed(uow, started, change, now)


def complete_operation(
    uow: ExecutionUnitOfWork, *, tenant_id: str, work_order_id: str, sequence: int
) -> WorkOrder:
    with uow:
        order = _order(uow, tenant_id, work_order_id, for_update=True)
        now = utcnow()
        completed = orders.operation_completed(order, sequence, now=now)
        station_id = order.operation(sequence).station_id
        uow.running_operations.stop(station_id=station_id)
        station = uow.stations.get(tenant_id=tenant_id, resource_id=station_id)
        where = station.name if station else station_id
        _replan(uow, completed, triggers.operation_trigger(completed, sequence, where, now))
        change = (
            WorkOrderChange.COMPLETED
            if completed.state is WorkOrderState.COMPLETED
            else WorkOrderChange.PROGRESSED
        )
        return _changed(uow, completed, change, now)


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
        reported = orders.counts_reported(order, sequence, good=good, scrap=scrap)
        return _changed(uow, reported, WorkOrderChange.PROGRESSED, utcnow())


def cancel_work_order(
    uow: ExecutionUnitOfWork, *, tenant_id: str, work_order_id: str, reason: str
) -> WorkOrder:
    with uow:
        order = _order(uow, tenant_id, work_order_id, for_update=True)
        now = utcnow()
        cancelled = orders.cancelled(order, reason=reason, now=now)
        for operation in order.operations:
            if operation.state is OperationState.RUNNING:
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
        counted = orders.counted(order, operation.sequence, good=good, scrap=scrap)
        _changed(uow, counted, WorkOrderChange.PROGRESSED, now)


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
