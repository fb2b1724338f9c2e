"""What makes the scheduler plan a plant again: the requests use cases leave in
their own transaction, and how each event is described in an explanation."""

from __future__ import annotations

from datetime import datetime

from imcloud_production.domain.ports import ExecutionUnitOfWork
from imcloud_production.domain.scheduling.plan import Trigger, TriggerKind, time_text
from imcloud_production.domain.work_orders import OperationState, WorkOrder


def requested(uow: ExecutionUnitOfWork, *, tenant_id: str, plant_id: str, trigger: Trigger) -> None:
    """Asks for the plant to be planned again, inside the caller's transaction."""
    uow.schedule_requests.add(tenant_id=tenant_id, plant_id=plant_id, trigger=trigger)


def released_trigger(order: WorkOrder, now: datetime) -> Trigger:
    return Trigger(
        TriggerKind.WORK_ORDER_RELEASED,
        order.id,
        f"work order {order.id} released ({order.quantity:g} x {order.part_number}, "
        f"due {time_text(order.due_time)}, priority {order.priority})",
        now,
    )


def cancelled_trigger(order: WorkOrder, now: datetime) -> Trigger:
    return Trigger(
        TriggerKind.WORK_ORDER_CANCELLED, order.id, f"work order {order.id} cancelled", now
    )


def operation_trigger(order: WorkOrder, sequence: int, station_name: str, now: datetime) -> Trigger:
    operation = order.operation(sequence)
    if operation.state is OperationState.STARTING:
        kind, verb = TriggerKind.OPERATION_STARTED, "started, its recipe being applied,"
    elif operation.state is OperationState.RUNNING:
        kind, verb = TriggerKind.OPERATION_STARTED, "started"
    else:
        kind, verb = TriggerKind.OPERATION_COMPLETED, "completed"
    return Trigger(
        kind,
        order.id,
        f"operation {sequence} of work order {order.id} {verb} at {station_name}",
        now,
    )


def calendar_trigger(plant_id: str, now: datetime) -> Trigger:
    return Trigger(TriggerKind.CALENDAR_CHANGED, plant_id, "the plant's calendar changed", now)


def planned_downtime_trigger(
    plant_id: str, where: str, start: datetime, end: datetime, *, booked: bool, now: datetime
) -> Trigger:
    verb = "booked" if booked else "removed"
    return Trigger(
        TriggerKind.PLANNED_DOWNTIME_CHANGED,
        plant_id,
        f"planned downtime at {where} from {time_text(start)} to {time_text(end)} {verb}",
        now,
    )
