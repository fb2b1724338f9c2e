"""Finite-capacity scheduling: each plant's plan of its released work orders on
its stations, inside the shift calendar, kept true as the floor reports.

Made by the production service: it plans a plant again within seconds of a
release, a cancellation, an operation starting or ending, a calendar or planned
downtime change, a station going down or back, or an operation falling behind.
Refreshing and quoting solve while the caller waits (a few seconds at most).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from imcloud.production.v1 import production_service_pb2 as pb
from imcloud.production.v1 import schedule_pb2 as schedule_pb
from imcloud_core.convert import from_timestamp, timestamp
from imcloud_core.errors import FieldViolation, InvalidArgument
from imcloud_gateway.api.http.deps import GatewayDep, OperatorCall, QueryTime, ViewerCall
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.routes.production import optional_time
from imcloud_gateway.api.http.schemas.schedules import (
    MovedOperationBody,
    QuoteResponse,
    QuoteWorkOrderRequest,
    ScheduledOperationBody,
    ScheduleResponse,
    ScheduleStatusName,
    ScheduleTriggerBody,
    TriggerKindName,
    UnscheduledWorkOrderBody,
    WorkOrderEtaResponse,
)

router = APIRouter(tags=["production"])

LineFilter = Annotated[
    str, Query(max_length=36, description="Only the operations at this line's stations")
]
StationFilter = Annotated[
    str, Query(max_length=36, description="Only the operations at this station")
]
WindowStart = Annotated[
    QueryTime | None, Query(description="Only the operations ending after this")
]
WindowEnd = Annotated[
    QueryTime | None, Query(description="Only the operations whose setup starts before this")
]

SCHEDULE_STATUS_NAMES: dict[schedule_pb.ScheduleStatus.ValueType, ScheduleStatusName] = {
    schedule_pb.SCHEDULE_STATUS_OPTIMAL: "optimal",
    schedule_pb.SCHEDULE_STATUS_FEASIBLE: "feasible",
    schedule_pb.SCHEDULE_STATUS_INFEASIBLE: "infeasible",
    schedule_pb.SCHEDULE_STATUS_UNKNOWN: "unknown",
}
TRIGGER_KIND_NAMES: dict[schedule_pb.TriggerKind.ValueType, TriggerKindName] = {
    schedule_pb.TRIGGER_KIND_WORK_ORDER_RELEASED: "work_order_released",
    schedule_pb.TRIGGER_KIND_WORK_ORDER_CANCELLED: "work_order_cancelled",
    schedule_pb.TRIGGER_KIND_OPERATION_STARTED: "operation_started",
    schedule_pb.TRIGGER_KIND_OPERATION_COMPLETED: "operation_completed",
    schedule_pb.TRIGGER_KIND_STATION_DOWN: "station_down",
    schedule_pb.TRIGGER_KIND_STATION_BACK: "station_back",
    schedule_pb.TRIGGER_KIND_SLOWER_THAN_PLANNED: "slower_than_planned",
    schedule_pb.TRIGGER_KIND_CALENDAR_CHANGED: "calendar_changed",
    schedule_pb.TRIGGER_KIND_PLANNED_DOWNTIME_CHANGED: "planned_downtime_changed",
    schedule_pb.TRIGGER_KIND_REQUESTED: "requested",
}


def trigger_body(trigger: schedule_pb.ScheduleTrigger) -> ScheduleTriggerBody:
    return ScheduleTriggerBody(
        kind=TRIGGER_KIND_NAMES[trigger.kind],
        subject_id=trigger.subject_id,
        description=trigger.description,
        occur_time=from_timestamp(trigger.occur_time),
    )


def scheduled_operation_body(operation: schedule_pb.ScheduledOperation) -> ScheduledOperationBody:
    return ScheduledOperationBody(
        work_order_id=operation.work_order_id,
        sequence=operation.sequence,
        name=operation.name,
        station_id=operation.station_id,
        line_id=operation.line_id,
        setup_start_time=from_timestamp(operation.setup_start_time),
        start_time=from_timestamp(operation.start_time),
        end_time=from_timestamp(operation.end_time),
        frozen=operation.frozen,
        started=operation.started,
    )


def eta_body(eta: schedule_pb.WorkOrderEta) -> WorkOrderEtaResponse:
    return WorkOrderEtaResponse(
        work_order_id=eta.work_order_id,
        due_time=from_timestamp(eta.due_time),
        end_time=from_timestamp(eta.end_time),
        lateness_s=eta.lateness_s,
        explanation=eta.explanation,
        revision=eta.revision,
        previous_end_time=optional_time(eta, "previous_end_time"),
        triggers=[trigger_body(t) for t in eta.triggers],
        moved_operations=[
            MovedOperationBody(
                sequence=moved.sequence,
                previous_station_id=moved.previous_station_id,
                previous_start_time=from_timestamp(moved.previous_start_time),
                station_id=moved.station_id,
                start_time=from_timestamp(moved.start_time),
            )
            for moved in eta.moved_operations
        ],
    )


def schedule_body(schedule: schedule_pb.PlantSchedule) -> ScheduleResponse:
    # Revision 0, before the first plan, carries no status.
    status = (
        None
        if schedule.status == schedule_pb.SCHEDULE_STATUS_UNSPECIFIED
        else SCHEDULE_STATUS_NAMES[schedule.status]
    )
    return ScheduleResponse(
        plant_id=schedule.plant_id,
        revision=schedule.revision,
        status=status,
        method=schedule.method,
        compute_time=optional_time(schedule, "compute_time"),
        solve_time_s=schedule.solve_time_s,
        triggers=[trigger_body(t) for t in schedule.triggers],
        operations=[scheduled_operation_body(o) for o in schedule.operations],
        etas=[eta_body(e) for e in schedule.etas],
        unscheduled=[
            UnscheduledWorkOrderBody(work_order_id=u.work_order_id, reason=u.reason)
            for u in schedule.unscheduled
        ],
        down_station_ids=list(schedule.down_station_ids),
        reason=schedule.reason,
        weighted_tardiness_s=schedule.weighted_tardiness_s,
        makespan_end_time=optional_time(schedule, "makespan_end_time"),
    )


@router.get(
    "/v1/plants/{plant_id}/schedule",
    summary="A plant's plan: its open operations on its stations, and every ETA",
    description=(
        "Gantt data: when and where each operation of the released and running work orders "
        "is planned, with the setup before it, and when each order is planned to be done "
        "and why. line_id and station_id show only the operations of that line or station; "
        "start_time and end_time only those that overlap the range (the ETAs stay "
        "complete). Revision 0 with status null: the plant has no plan yet; it gets one "
        "within seconds of its first released order or calendar change."
    ),
    responses=error_responses(401, 404, 422, 429, 503),
)
def get_schedule(
    plant_id: str,
    ctx: ViewerCall,
    gateway: GatewayDep,
    line_id: LineFilter = "",
    station_id: StationFilter = "",
    start_time: WindowStart = None,
    end_time: WindowEnd = None,
) -> ScheduleResponse:
    request = pb.GetScheduleRequest(plant_id=plant_id, line_id=line_id, station_id=station_id)
    if start_time is not None and end_time is not None and end_time <= start_time:
        raise InvalidArgument(
            "the range is not valid",
            violations=(FieldViolation("end_time", "must be after start_time"),),
        )
    if start_time is not None:
        request.start_time.CopyFrom(timestamp(start_time))
    if end_time is not None:
        request.end_time.CopyFrom(timestamp(end_time))
    response = gateway.call(gateway.backends.production.GetSchedule, request, ctx)
    return schedule_body(response.schedule)


@router.post(
    "/v1/plants/{plant_id}/schedule:refresh",
    summary="Plan the plant again from scratch, now",
    description=(
        "The plant is planned again by itself whenever something changes; this asks for a "
        "full new plan at once, with the optimiser's whole time allowance (a few seconds). "
        "Operations that have started, or are about to, stay where they are. Answers the "
        "new plan."
    ),
    responses=error_responses(401, 403, 404, 429, 503),
)
def refresh_schedule(plant_id: str, ctx: OperatorCall, gateway: GatewayDep) -> ScheduleResponse:
    response = gateway.call(
        gateway.backends.production.RefreshSchedule,
        pb.RefreshScheduleRequest(plant_id=plant_id),
        ctx,
    )
    return schedule_body(response.schedule)


@router.get(
    "/v1/work-orders/{work_order_id}/eta",
    summary="When a work order will be done, and why",
    description=(
        "For a released or running order: when its last operation is planned to end, how "
        "late that is, and the explanation of the last change (the events, the operations "
        "they moved, what a late order waits for). A planned, completed or cancelled order "
        "has no ETA (409), nor has an order no plan can hold (409 with the reason); an "
        "order released a moment ago may not be planned yet (409 saying so: ask again "
        "shortly)."
    ),
    responses=error_responses(401, 404, 409, 429, 503),
)
def get_work_order_eta(
    work_order_id: str, ctx: ViewerCall, gateway: GatewayDep
) -> WorkOrderEtaResponse:
    response = gateway.call(
        gateway.backends.production.GetWorkOrderEta,
        pb.GetWorkOrderEtaRequest(work_order_id=work_order_id),
        ctx,
    )
    return eta_body(response.eta)


@router.post(
    "/v1/plants/{plant_id}/schedule:quote",
    summary="What if: when would a new order be done if it were released now?",
    description=(
        "Plans the plant with the order added, as a release would, and answers when it would "
        "be done, which released orders it would delay and its operations; nothing is "
        "stored and the plant's plan stays as it is. For quoting lead times. An unknown "
        "product_id or a due_time that has passed is a 422 naming the field; an order no "
        "plan could hold is a 409 with the reason."
    ),
    responses=error_responses(401, 404, 409, 422, 429, 503),
)
def quote_work_order(
    plant_id: str, body: QuoteWorkOrderRequest, ctx: ViewerCall, gateway: GatewayDep
) -> QuoteResponse:
    request = pb.QuoteWorkOrderRequest(
        plant_id=plant_id,
        product_id=body.product_id,
        quantity=body.quantity,
        priority=body.priority,
    )
    if body.due_time is not None:
        request.due_time.CopyFrom(timestamp(body.due_time))
    response = gateway.call(gateway.backends.production.QuoteWorkOrder, request, ctx)
    return QuoteResponse(
        end_time=from_timestamp(response.end_time),
        lateness_s=response.lateness_s,
        explanation=response.explanation,
        status=SCHEDULE_STATUS_NAMES[response.status],
        delayed=[eta_body(e) for e in response.delayed],
        operations=[scheduled_operation_body(o) for o in response.operations],
    )
