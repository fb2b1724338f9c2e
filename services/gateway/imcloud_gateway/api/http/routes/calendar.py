"""When plants plan to produce: shift calendars, their shifts, planned downtime.

Stored by the production service; OEE counts planned busy time from them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from imcloud.production.v1 import calendar_pb2 as calendar_pb
from imcloud.production.v1 import production_service_pb2 as pb
from imcloud_core.convert import from_timestamp, timestamp
from imcloud_gateway.api.http.deps import (
    AdminCall,
    GatewayDep,
    PageSize,
    PageToken,
    QueryTime,
    ViewerCall,
)
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.routes.production import checked_range, no_content, optional_time
from imcloud_gateway.api.http.schemas.calendar import (
    CreatePlannedDowntimeRequest,
    PlannedDowntimeKindName,
    PlannedDowntimeResponse,
    ShiftBreakBody,
    ShiftCalendarRequest,
    ShiftCalendarResponse,
    ShiftListResponse,
    ShiftPatternBody,
    ShiftResponse,
    TimeRangeBody,
)
from imcloud_gateway.api.http.schemas.common import Page

router = APIRouter(tags=["production"])

# ListShifts answers for at most this many days at once.
MAX_SHIFT_RANGE_DAYS = 31
PLANNED_DOWNTIME_KINDS: dict[PlannedDowntimeKindName, calendar_pb.PlannedDowntimeKind.ValueType] = {
    "maintenance": calendar_pb.PLANNED_DOWNTIME_KIND_MAINTENANCE,
    "planned_stop": calendar_pb.PLANNED_DOWNTIME_KIND_PLANNED_STOP,
}
PLANNED_DOWNTIME_KIND_NAMES = {number: name for name, number in PLANNED_DOWNTIME_KINDS.items()}

Start = Annotated[QueryTime, Query(description="From this time on (inclusive)")]
End = Annotated[
    QueryTime,
    Query(description=f"Up to this time (exclusive), at most {MAX_SHIFT_RANGE_DAYS} days on"),
]


def calendar_body(calendar: calendar_pb.ShiftCalendar) -> ShiftCalendarResponse:
    return ShiftCalendarResponse(
        plant_id=calendar.plant_id,
        shifts=[
            ShiftPatternBody(
                name=shift.name,
                days_of_week=list(shift.days_of_week),
                start_time=shift.start_time,
                end_time=shift.end_time,
                breaks=[
                    ShiftBreakBody(start_time=b.start_time, end_time=b.end_time)
                    for b in shift.breaks
                ],
            )
            for shift in calendar.shifts
        ],
        holidays=list(calendar.holidays),
        small_stop_threshold_s=calendar.small_stop_threshold_s,
        startup_window_s=calendar.startup_window_s,
        update_time=optional_time(calendar, "update_time"),
        effective_time=optional_time(calendar, "effective_time"),
    )


def calendar_message(plant_id: str, body: ShiftCalendarRequest) -> calendar_pb.ShiftCalendar:
    return calendar_pb.ShiftCalendar(
        plant_id=plant_id,
        shifts=[
            calendar_pb.ShiftPattern(
                name=shift.name,
                days_of_week=shift.days_of_week,
                start_time=shift.start_time,
                end_time=shift.end_time,
                breaks=[
                    calendar_pb.ShiftBreak(start_time=b.start_time, end_time=b.end_time)
                    for b in shift.breaks
                ],
            )
            for shift in body.shifts
        ],
        holidays=[day.isoformat() for day in body.holidays],
        small_stop_threshold_s=body.small_stop_threshold_s,
        startup_window_s=body.startup_window_s,
    )


def shift_body(shift: calendar_pb.Shift) -> ShiftResponse:
    return ShiftResponse(
        plant_id=shift.plant_id,
        name=shift.name,
        date=shift.date,
        start_time=from_timestamp(shift.start_time),
        end_time=from_timestamp(shift.end_time),
        breaks=[
            TimeRangeBody(
                start_time=from_timestamp(b.start_time), end_time=from_timestamp(b.end_time)
            )
            for b in shift.breaks
        ],
        planned_busy_time_s=shift.planned_busy_time_s,
    )


def planned_downtime_body(downtime: calendar_pb.PlannedDowntime) -> PlannedDowntimeResponse:
    return PlannedDowntimeResponse(
        id=downtime.id,
        plant_id=downtime.plant_id,
        station_id=downtime.station_id,
        kind=PLANNED_DOWNTIME_KIND_NAMES[downtime.kind],
        start_time=from_timestamp(downtime.start_time),
        end_time=from_timestamp(downtime.end_time),
        reason=downtime.reason,
        create_time=from_timestamp(downtime.create_time),
    )


# -- calendars -------------------------------------------------------------------


@router.put(
    "/v1/plants/{plant_id}/calendar",
    summary="Set a plant's shift calendar",
    description=(
        "Gives the plant shift patterns, holidays and thresholds, in the plant's time "
        "zone, from effective_time on (default now; at most 31 days back, where what was "
        "counted since is counted again). Time before it keeps the calendar it had. Two "
        "shifts may not overlap (422 naming the later one)."
    ),
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def set_calendar(
    plant_id: str, body: ShiftCalendarRequest, ctx: AdminCall, gateway: GatewayDep
) -> ShiftCalendarResponse:
    response = gateway.call(
        gateway.backends.production.SetShiftCalendar,
        pb.SetShiftCalendarRequest(
            calendar=calendar_message(plant_id, body),
            effective_time=timestamp(body.effective_time) if body.effective_time else None,
        ),
        ctx,
    )
    return calendar_body(response.calendar)


@router.get(
    "/v1/plants/{plant_id}/calendar",
    summary="Get a plant's shift calendar",
    description="A plant without a calendar has no shifts: no time is planned.",
    responses=error_responses(401, 404, 429, 503),
)
def get_calendar(plant_id: str, ctx: ViewerCall, gateway: GatewayDep) -> ShiftCalendarResponse:
    response = gateway.call(
        gateway.backends.production.GetShiftCalendar,
        pb.GetShiftCalendarRequest(plant_id=plant_id),
        ctx,
    )
    return calendar_body(response.calendar)


@router.get(
    "/v1/plants/{plant_id}/shifts",
    summary="List a plant's shifts in a time range, earliest first",
    description=(
        f"The shifts that overlap the range (at most {MAX_SHIFT_RANGE_DAYS} days), in "
        "absolute time, with their breaks and planned busy time."
    ),
    responses=error_responses(401, 404, 422, 429, 503),
)
def list_shifts(
    plant_id: str, start_time: Start, end_time: End, ctx: ViewerCall, gateway: GatewayDep
) -> ShiftListResponse:
    start, end = checked_range(start_time, end_time, max_days=MAX_SHIFT_RANGE_DAYS)
    response = gateway.call(
        gateway.backends.production.ListShifts,
        pb.ListShiftsRequest(plant_id=plant_id, start_time=start, end_time=end),
        ctx,
    )
    return ShiftListResponse(items=[shift_body(s) for s in response.shifts])


# -- planned downtime ------------------------------------------------------------


@router.post(
    "/v1/planned-downtimes",
    status_code=status.HTTP_201_CREATED,
    summary="Book planned downtime",
    description=(
        "Takes time out of planned busy time: of one station, or of every station of the "
        "plant when station_id is empty. Booked ahead of its start, on whole minutes; an "
        "unknown plant_id or station_id is a 422 naming that field."
    ),
    responses=error_responses(401, 403, 409, 422, 429, 503),
)
def create_planned_downtime(
    body: CreatePlannedDowntimeRequest, ctx: AdminCall, gateway: GatewayDep
) -> PlannedDowntimeResponse:
    response = gateway.call(
        gateway.backends.production.CreatePlannedDowntime,
        pb.CreatePlannedDowntimeRequest(
            planned_downtime=calendar_pb.PlannedDowntime(
                plant_id=body.plant_id,
                station_id=body.station_id,
                kind=PLANNED_DOWNTIME_KINDS[body.kind],
                start_time=timestamp(body.start_time),
                end_time=timestamp(body.end_time),
                reason=body.reason,
            )
        ),
        ctx,
    )
    return planned_downtime_body(response.planned_downtime)


@router.get(
    "/v1/planned-downtimes",
    summary="List a plant's planned downtime, earliest first",
    responses=error_responses(401, 422, 429, 503),
)
def list_planned_downtimes(
    plant_id: Annotated[str, Query(min_length=1, max_length=36, description="The plant")],
    ctx: ViewerCall,
    gateway: GatewayDep,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[PlannedDowntimeResponse]:
    response = gateway.call(
        gateway.backends.production.ListPlannedDowntimes,
        pb.ListPlannedDowntimesRequest(
            plant_id=plant_id, page_size=page_size, page_token=page_token
        ),
        ctx,
    )
    return Page(
        items=[planned_downtime_body(d) for d in response.planned_downtimes],
        next_page_token=response.next_page_token,
    )


@router.delete(
    "/v1/planned-downtimes/{planned_downtime_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete planned downtime",
    description="Refused (409) once it has started: counted time stays counted.",
    responses=error_responses(401, 403, 404, 409, 429, 503),
)
def delete_planned_downtime(
    planned_downtime_id: str, ctx: AdminCall, gateway: GatewayDep
) -> Response:
    gateway.call(
        gateway.backends.production.DeletePlannedDowntime,
        pb.DeletePlannedDowntimeRequest(planned_downtime_id=planned_downtime_id),
        ctx,
    )
    return no_content()
