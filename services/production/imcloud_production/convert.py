"""Domain objects to protobuf messages and back."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from imcloud.production.v1 import calendar_pb2 as calendar_pb
from imcloud.production.v1 import catalog_pb2 as catalog_pb
from imcloud.production.v1 import performance_pb2 as performance_pb
from imcloud.production.v1 import production_service_pb2 as pb
from imcloud.production.v1 import schedule_pb2 as schedule_pb
from imcloud.production.v1 import work_orders_pb2 as work_orders_pb
from imcloud_core.convert import timestamp
from imcloud_core.errors import FieldViolation, InvalidArgument
from imcloud_production.domain.calendar import (
    Calendar,
    ShiftBreak,
    ShiftOccurrence,
    ShiftPattern,
    parse_clock,
)
from imcloud_production.domain.catalog import (
    DEFAULT_HOLD_S,
    BomLine,
    Comparison,
    CounterKind,
    CountSignal,
    EquipmentState,
    Product,
    RoutingStep,
    StateMapping,
    StateRule,
)
from imcloud_production.domain.execution import (
    Downtime,
    DowntimeReason,
    PlannedDowntime,
    PlannedDowntimeKind,
    QualityRecord,
)
from imcloud_production.domain.model import Line, Plant, Resource, Station
from imcloud_production.domain.monitoring import OeePart, TimelineEntry
from imcloud_production.domain.oee import LossCategory
from imcloud_production.domain.scheduling.model import Status
from imcloud_production.domain.scheduling.plan import (
    Eta,
    PlannedOperation,
    PlantSchedule,
    Trigger,
    TriggerKind,
)
from imcloud_production.domain.scheduling.windows import Window
from imcloud_production.domain.work_orders import OperationState, WorkOrder, WorkOrderState

T = TypeVar("T")


def plant_message(plant: Plant) -> pb.Plant:
    return pb.Plant(
        id=plant.id,
        name=plant.name,
        location=plant.location,
        time_zone=plant.time_zone,
        create_time=timestamp(plant.create_time),
        update_time=timestamp(plant.update_time),
    )


def line_message(line: Line) -> pb.Line:
    return pb.Line(
        id=line.id,
        plant_id=line.plant_id,
        name=line.name,
        description=line.description,
        create_time=timestamp(line.create_time),
        update_time=timestamp(line.update_time),
    )


def station_message(station: Station) -> pb.Station:
    return pb.Station(
        id=station.id,
        line_id=station.line_id,
        plant_id=station.plant_id,
        name=station.name,
        description=station.description,
        create_time=timestamp(station.create_time),
        update_time=timestamp(station.update_time),
        capabilities=station.capabilities,
        ideal_cycle_time_s=station.ideal_cycle_time_s,
        ideal_cycle_times=station.ideal_cycle_times,
    )


def resource_message(resource: Resource) -> pb.Plant | pb.Line | pb.Station:
    match resource:
        case Plant():
            return plant_message(resource)
        case Line():
            return line_message(resource)
        case Station():
            return station_message(resource)


# -- execution ---------------------------------------------------------------------

_CLOCK_FORMAT = "%H:%M"

STATES = {
    catalog_pb.EQUIPMENT_STATE_RUNNING: EquipmentState.RUNNING,
    catalog_pb.EQUIPMENT_STATE_IDLE: EquipmentState.IDLE,
    catalog_pb.EQUIPMENT_STATE_DOWN: EquipmentState.DOWN,
    catalog_pb.EQUIPMENT_STATE_SETUP: EquipmentState.SETUP,
    catalog_pb.EQUIPMENT_STATE_PLANNED_STOP: EquipmentState.PLANNED_STOP,
    catalog_pb.EQUIPMENT_STATE_NO_DATA: EquipmentState.NO_DATA,
}
STATE_MESSAGES = {state: number for number, state in STATES.items()}
COMPARISONS = {
    catalog_pb.STATE_COMPARISON_EQUAL: Comparison.EQUAL,
    catalog_pb.STATE_COMPARISON_GREATER: Comparison.GREATER,
    catalog_pb.STATE_COMPARISON_LESS: Comparison.LESS,
}
COUNTER_KINDS = {
    catalog_pb.COUNTER_KIND_TOTAL: CounterKind.TOTAL,
    catalog_pb.COUNTER_KIND_PER_CYCLE: CounterKind.PER_CYCLE,
}
WORK_ORDER_STATES = {
    work_orders_pb.WORK_ORDER_STATE_PLANNED: WorkOrderState.PLANNED,
    work_orders_pb.WORK_ORDER_STATE_RELEASED: WorkOrderState.RELEASED,
    work_orders_pb.WORK_ORDER_STATE_RUNNING: WorkOrderState.RUNNING,
    work_orders_pb.WORK_ORDER_STATE_COMPLETED: WorkOrderState.COMPLETED,
    work_orders_pb.WORK_ORDER_STATE_CANCELLED: WorkOrderState.CANCELLED,
}
OPERATION_STATES = {
    OperationState.PENDING: work_orders_pb.OPERATION_STATE_PENDING,
    OperationState.STARTING: work_orders_pb.OPERATION_STATE_STARTING,
    OperationState.RUNNING: work_orders_pb.OPERATION_STATE_RUNNING,
    OperationState.DONE: work_orders_pb.OPERATION_STATE_DONE,
}
DOWNTIME_KINDS = {
    calendar_pb.PLANNED_DOWNTIME_KIND_MAINTENANCE: PlannedDowntimeKind.MAINTENANCE,
    calendar_pb.PLANNED_DOWNTIME_KIND_PLANNED_STOP: PlannedDowntimeKind.PLANNED_STOP,
}
LOSS_CATEGORIES = {
    performance_pb.LOSS_CATEGORY_BREAKDOWN: LossCategory.BREAKDOWN,
    performance_pb.LOSS_CATEGORY_SETUP: LossCategory.SETUP,
    performance_pb.LOSS_CATEGORY_EXTERNAL: LossCategory.EXTERNAL,
}
SCOPES = {
    "station": performance_pb.OEE_SCOPE_STATION,
    "line": performance_pb.OEE_SCOPE_LINE,
    "plant": performance_pb.OEE_SCOPE_PLANT,
}


def _reverse(table: Mapping[Any, Any]) -> dict[Any, Any]:
    return {value: key for key, value in table.items()}


def known(table: Mapping[Any, T], number: int, *, field: str) -> T:
    """The domain value of an enum number, or InvalidArgument naming the field."""
    if number not in table:
        raise InvalidArgument(
            f"{field} is not set to a known value",
            violations=(FieldViolation(field, "unspecified or unknown value"),),
        )
    return table[number]


def calendar_from(message: calendar_pb.ShiftCalendar) -> Calendar:
    shifts = []
    for index, shift in enumerate(message.shifts):
        where = f"shifts[{index}]"
        shifts.append(
            ShiftPattern(
                name=shift.name,
                days_of_week=tuple(shift.days_of_week),
                start=parse_clock(shift.start_time, field=f"{where}.start_time"),
                end=parse_clock(shift.end_time, field=f"{where}.end_time"),
                breaks=tuple(
                    ShiftBreak(
                        parse_clock(b.start_time, field=f"{where}.breaks[{n}].start_time"),
                        parse_clock(b.end_time, field=f"{where}.breaks[{n}].end_time"),
                    )
                    for n, b in enumerate(shift.breaks)
                ),
            )
        )
    holidays = []
    for index, text in enumerate(message.holidays):
        try:
            holidays.append(date.fromisoformat(text))
        except ValueError:
            raise InvalidArgument(
                f"holiday {text!r} is not a date",
                violations=(FieldViolation(f"holidays[{index}]", 'a date "YYYY-MM-DD"'),),
            ) from None
    return Calendar(
        plant_id=message.plant_id,
        time_zone="UTC",
        shifts=tuple(shifts),
        holidays=tuple(holidays),
        small_stop_threshold_s=message.small_stop_threshold_s,
        startup_window_s=message.startup_window_s,
    )


def calendar_message(
    calendar: Calendar, times: tuple[datetime, datetime] | None
) -> calendar_pb.ShiftCalendar:
    """``times``: the calendar's (effective time, update time), None if never set."""
    message = calendar_pb.ShiftCalendar(
        plant_id=calendar.plant_id,
        shifts=[
            calendar_pb.ShiftPattern(
                name=s.name,
                days_of_week=s.days_of_week,
                start_time=s.start.strftime(_CLOCK_FORMAT),
                end_time=s.end.strftime(_CLOCK_FORMAT),
                breaks=[
                    calendar_pb.ShiftBreak(
                        start_time=b.start.strftime(_CLOCK_FORMAT),
                        end_time=b.end.strftime(_CLOCK_FORMAT),
                    )
                    for b in s.breaks
                ],
            )
            for s in calendar.shifts
        ],
        holidays=[d.isoformat() for d in calendar.holidays],
        small_stop_threshold_s=calendar.small_stop_threshold_s,
        startup_window_s=calendar.startup_window_s,
    )
    if times is not None:
        message.effective_time.CopyFrom(timestamp(times[0]))
        message.update_time.CopyFrom(timestamp(times[1]))
    return message


def shift_message(plant_id: str, shift: ShiftOccurrence) -> calendar_pb.Shift:
    return calendar_pb.Shift(
        plant_id=plant_id,
        name=shift.name,
        date=shift.date.isoformat(),
        start_time=timestamp(shift.start),
        end_time=timestamp(shift.end),
        breaks=[
            calendar_pb.TimeRange(start_time=timestamp(s), end_time=timestamp(e))
            for s, e in shift.breaks
        ],
        planned_busy_time_s=shift.planned_busy_time_s,
    )


def planned_downtime_message(downtime: PlannedDowntime) -> calendar_pb.PlannedDowntime:
    return calendar_pb.PlannedDowntime(
        id=downtime.id,
        plant_id=downtime.plant_id,
        station_id=downtime.station_id,
        kind=_reverse(DOWNTIME_KINDS)[downtime.kind],
        start_time=timestamp(downtime.start_time),
        end_time=timestamp(downtime.end_time),
        reason=downtime.reason,
        create_time=timestamp(downtime.create_time),
    )


def routing_from(messages: Iterable[catalog_pb.RoutingStep]) -> tuple[RoutingStep, ...]:
    return tuple(
        RoutingStep(s.name, s.capability, s.setup_time_s, s.ideal_cycle_time_s, s.recipe_json)
        for s in messages
    )


def bom_from(messages: Iterable[catalog_pb.BomLine]) -> tuple[BomLine, ...]:
    return tuple(BomLine(b.component_part_number, b.quantity, b.unit) for b in messages)


def routing_messages(routing: Iterable[RoutingStep]) -> list[catalog_pb.RoutingStep]:
    return [
        catalog_pb.RoutingStep(
            name=s.name,
            capability=s.capability,
            setup_time_s=s.setup_time_s,
            ideal_cycle_time_s=s.ideal_cycle_time_s,
            recipe_json=s.recipe_json,
        )
        for s in routing
    ]


def bom_messages(bom: Iterable[BomLine]) -> list[catalog_pb.BomLine]:
    return [
        catalog_pb.BomLine(
            component_part_number=b.component_part_number, quantity=b.quantity, unit=b.unit
        )
        for b in bom
    ]


def product_from(tenant_id: str, message: catalog_pb.Product) -> Product:
    return Product(
        id="",
        tenant_id=tenant_id,
        part_number=message.part_number,
        name=message.name,
        unit=message.unit,
        routing=routing_from(message.routing),
        bom=bom_from(message.bom),
        create_time=datetime.min.replace(tzinfo=UTC),
    )


def product_message(product: Product, first_pass_yield: float | None = None) -> catalog_pb.Product:
    message = catalog_pb.Product(
        id=product.id,
        part_number=product.part_number,
        name=product.name,
        unit=product.unit,
        routing=routing_messages(product.routing),
        bom=bom_messages(product.bom),
        create_time=timestamp(product.create_time),
    )
    if first_pass_yield is not None:
        message.first_pass_yield = first_pass_yield
    return message


def _count_from(message: catalog_pb.CountSignal, field: str) -> CountSignal:
    return CountSignal(message.signal, known(COUNTER_KINDS, message.kind, field=f"{field}.kind"))


def mapping_from(tenant_id: str, message: catalog_pb.StateMapping, now: datetime) -> StateMapping:
    return StateMapping(
        tenant_id=tenant_id,
        equipment_model_id=message.equipment_model_id,
        state_signal=message.state_signal,
        rules=tuple(
            StateRule(
                known(COMPARISONS, r.comparison, field=f"rules[{n}].comparison"),
                r.value,
                known(STATES, r.state, field=f"rules[{n}].state"),
            )
            for n, r in enumerate(message.rules)
        ),
        default_state=known(STATES, message.default_state, field="default_state"),
        good=_count_from(message.good, "good") if message.HasField("good") else None,
        scrap=_count_from(message.scrap, "scrap") if message.HasField("scrap") else None,
        hold_s=message.hold_s or DEFAULT_HOLD_S,
        update_time=now,
    )


def mapping_message(mapping: StateMapping) -> catalog_pb.StateMapping:
    kinds = _reverse(COUNTER_KINDS)
    message = catalog_pb.StateMapping(
        equipment_model_id=mapping.equipment_model_id,
        state_signal=mapping.state_signal,
        rules=[
            catalog_pb.StateRule(
                comparison=_reverse(COMPARISONS)[r.comparison],
                value=r.value,
                state=STATE_MESSAGES[r.state],
            )
            for r in mapping.rules
        ],
        default_state=STATE_MESSAGES[mapping.default_state],
        hold_s=mapping.hold_s,
        update_time=timestamp(mapping.update_time),
    )
    if mapping.good is not None:
        message.good.CopyFrom(
            catalog_pb.CountSignal(signal=mapping.good.signal, kind=kinds[mapping.good.kind])
        )
    if mapping.scrap is not None:
        message.scrap.CopyFrom(
            catalog_pb.CountSignal(signal=mapping.scrap.signal, kind=kinds[mapping.scrap.kind])
        )
    return message


def _set_time(message: Any, field: str, moment: datetime | None) -> None:
    if moment is not None:
        getattr(message, field).CopyFrom(timestamp(moment))


def work_order_message(order: WorkOrder) -> work_orders_pb.WorkOrder:
    message = work_orders_pb.WorkOrder(
        id=order.id,
        product_id=order.product_id,
        part_number=order.part_number,
        quantity=order.quantity,
        due_time=timestamp(order.due_time),
        priority=order.priority,
        plant_id=order.plant_id,
        state=_reverse(WORK_ORDER_STATES)[order.state],
        cancel_reason=order.cancel_reason,
        good_quantity=order.good_quantity,
        scrap_quantity=order.scrap_quantity,
        create_time=timestamp(order.create_time),
        note=order.note,
        customer_order_id=order.customer_order_id,
        bom=bom_messages(order.bom),
        routing=routing_messages(order.routing),
    )
    for field in ("release_time", "start_time", "end_time"):
        _set_time(message, field, getattr(order, field))
    if order.first_pass_yield is not None:
        message.first_pass_yield = order.first_pass_yield
    for operation in order.operations:
        step = message.operations.add(
            sequence=operation.sequence,
            name=operation.name,
            capability=operation.capability,
            setup_time_s=operation.setup_time_s,
            ideal_cycle_time_s=operation.ideal_cycle_time_s,
            station_id=operation.station_id,
            state=OPERATION_STATES[operation.state],
            good_quantity=operation.good_quantity,
            scrap_quantity=operation.scrap_quantity,
            recipe_json=operation.recipe_json,
        )
        _set_time(step, "start_time", operation.start_time)
        _set_time(step, "end_time", operation.end_time)
        for delivery in operation.recipe_deliveries:
            sent = step.recipe_deliveries.add(
                equipment_id=delivery.equipment_id, desired_version=delivery.desired_version
            )
            _set_time(sent, "applied_time", delivery.applied_time)
    return message


def quality_record_message(record: QualityRecord) -> work_orders_pb.QualityRecord:
    return work_orders_pb.QualityRecord(
        id=record.id,
        work_order_id=record.work_order_id,
        sequence=record.sequence,
        station_id=record.station_id,
        defect_code=record.defect_code,
        quantity=record.quantity,
        scrapped=record.scrapped,
        note=record.note,
        record_time=timestamp(record.create_time),
    )


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def interval_message(station_id: str, entry: TimelineEntry) -> performance_pb.StateInterval:
    message = performance_pb.StateInterval(
        station_id=station_id,
        equipment_id=entry.equipment_id,
        state=STATE_MESSAGES[entry.state],
        start_time=timestamp(_moment(entry.start_ms)),
    )
    if entry.end_ms is not None:
        message.end_time.CopyFrom(timestamp(_moment(entry.end_ms)))
    return message


def reason_message(reason: DowntimeReason) -> performance_pb.DowntimeReason:
    return performance_pb.DowntimeReason(
        code=reason.code,
        name=reason.name,
        parent_code=reason.parent_code,
        category=_reverse(LOSS_CATEGORIES)[reason.category],
    )


def downtime_message(downtime: Downtime) -> performance_pb.Downtime:
    message = performance_pb.Downtime(
        id=downtime.id,
        station_id=downtime.station_id,
        equipment_id=downtime.equipment_id,
        state=STATE_MESSAGES[downtime.state],
        start_time=timestamp(_moment(downtime.start_ms)),
        reason_code=downtime.reason_code,
        category=_reverse(LOSS_CATEGORIES)[downtime.category],
        reason_actor=downtime.reason_actor,
    )
    if downtime.end_ms is not None:
        message.end_time.CopyFrom(timestamp(_moment(downtime.end_ms)))
    return message


def oee_message(part: OeePart) -> performance_pb.Oee:
    figures = part.figures
    message = performance_pb.Oee(
        scope=SCOPES[part.scope],
        scope_id=part.scope_id,
        start_time=timestamp(part.start),
        end_time=timestamp(part.end),
        shift=part.shift,
        time=performance_pb.TimeElements(**dataclasses.asdict(figures.time)),
        quantities=performance_pb.Quantities(**dataclasses.asdict(figures.quantities)),
        losses=performance_pb.SixLosses(**dataclasses.asdict(figures.losses)),
        stations=figures.stations,
    )
    for field in ("availability", "performance", "quality", "oee"):
        value = getattr(figures, field)
        if value is not None:
            setattr(message, field, value)
    return message


# -- schedules --------------------------------------------------------------------------

SCHEDULE_STATUSES = {
    Status.OPTIMAL: schedule_pb.SCHEDULE_STATUS_OPTIMAL,
    Status.FEASIBLE: schedule_pb.SCHEDULE_STATUS_FEASIBLE,
    Status.INFEASIBLE: schedule_pb.SCHEDULE_STATUS_INFEASIBLE,
    Status.UNKNOWN: schedule_pb.SCHEDULE_STATUS_UNKNOWN,
}

TRIGGER_KINDS = {
    kind: schedule_pb.TriggerKind.Value(f"TRIGGER_KIND_{kind.name}") for kind in TriggerKind
}


def trigger_message(trigger: Trigger) -> schedule_pb.ScheduleTrigger:
    return schedule_pb.ScheduleTrigger(
        kind=TRIGGER_KINDS[trigger.kind],
        subject_id=trigger.subject_id,
        description=trigger.description,
        occur_time=timestamp(trigger.occur_time),
    )


def planned_operation_message(operation: PlannedOperation) -> schedule_pb.ScheduledOperation:
    return schedule_pb.ScheduledOperation(
        work_order_id=operation.work_order_id,
        sequence=operation.sequence,
        name=operation.name,
        station_id=operation.station_id,
        line_id=operation.line_id,
        setup_start_time=timestamp(operation.setup_start),
        start_time=timestamp(operation.start),
        end_time=timestamp(operation.end),
        frozen=operation.frozen,
        started=operation.started,
    )


def eta_message(eta: Eta) -> schedule_pb.WorkOrderEta:
    message = schedule_pb.WorkOrderEta(
        work_order_id=eta.work_order_id,
        due_time=timestamp(eta.due_time),
        end_time=timestamp(eta.end_time),
        lateness_s=eta.lateness_s,
        explanation=eta.explanation,
        revision=eta.revision,
        triggers=[trigger_message(trigger) for trigger in eta.triggers],
        moved_operations=[
            schedule_pb.MovedOperation(
                sequence=item.sequence,
                previous_station_id=item.previous_station_id,
                previous_start_time=timestamp(item.previous_start),
                station_id=item.station_id,
                start_time=timestamp(item.start),
            )
            for item in eta.moved
        ],
    )
    _set_time(message, "previous_end_time", eta.previous_end_time)
    return message


def maintenance_window_message(window: Window) -> schedule_pb.MaintenanceWindow:
    return schedule_pb.MaintenanceWindow(
        station_id=window.station_id,
        plant_id=window.plant_id,
        start_time=timestamp(window.start),
        end_time=timestamp(window.end),
        displaced_operation_s=window.displaced_operation_s,
        idle_s=window.idle_s,
        planned_stop_s=window.planned_stop_s,
        non_working_s=window.non_working_s,
        delayed_work_orders=[
            schedule_pb.DelayedWorkOrder(
                work_order_id=order.work_order_id,
                delay_s=order.delay_s,
                added_lateness_s=order.added_lateness_s,
            )
            for order in window.delayed
        ],
        added_lateness_s=window.added_lateness_s,
        explanation=window.explanation,
    )


def unscheduled_messages(unscheduled: Mapping[str, str]) -> list[schedule_pb.UnscheduledWorkOrder]:
    return [
        schedule_pb.UnscheduledWorkOrder(work_order_id=order_id, reason=reason)
        for order_id, reason in sorted(unscheduled.items())
    ]


def schedule_message(plant_id: str, schedule: PlantSchedule | None) -> schedule_pb.PlantSchedule:
    """The plant's schedule; revision 0 and nothing else before the first."""
    if schedule is None:
        return schedule_pb.PlantSchedule(plant_id=plant_id)
    message = schedule_pb.PlantSchedule(
        plant_id=schedule.plant_id,
        revision=schedule.revision,
        status=SCHEDULE_STATUSES[schedule.status],
        method=schedule.method,
        compute_time=timestamp(schedule.compute_time),
        solve_time_s=schedule.solve_time_s,
        triggers=[trigger_message(trigger) for trigger in schedule.triggers],
        operations=[planned_operation_message(o) for o in schedule.operations],
        etas=[eta_message(eta) for _, eta in sorted(schedule.etas.items())],
        unscheduled=unscheduled_messages(schedule.unscheduled),
        down_station_ids=sorted(schedule.down_stations),
        reason=schedule.reason,
        weighted_tardiness_s=schedule.weighted_tardiness_s,
    )
    _set_time(message, "makespan_end_time", schedule.makespan_end)
    return message
