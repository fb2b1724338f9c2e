"""Maintenance tickets, stored by the servitization service."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BeforeValidator

from imcloud.production.v1 import schedule_pb2
from imcloud.servitization.v1 import servitization_service_pb2 as pb
from imcloud_core.convert import from_timestamp, timestamp
from imcloud_core.errors import FieldViolation, InvalidArgument
from imcloud_gateway.api.http.deps import GatewayDep, OperatorCall, PageSize, PageToken, ViewerCall
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.servitization import (
    BookingResponse,
    BookWindowRequest,
    ChangeResponse,
    DelayedWorkOrderResponse,
    NoteRequest,
    NoteResponse,
    OpenTicketRequest,
    SuggestedWindowsResponse,
    TicketDetailResponse,
    TicketResponse,
    TransitionTicketRequest,
    UpdateTicketRequest,
    WindowResponse,
)

router = APIRouter(tags=["servitization"])

PRIORITIES = {
    "low": pb.TICKET_PRIORITY_LOW,
    "medium": pb.TICKET_PRIORITY_MEDIUM,
    "high": pb.TICKET_PRIORITY_HIGH,
    "critical": pb.TICKET_PRIORITY_CRITICAL,
}
PRIORITY_NAMES = {number: name for name, number in PRIORITIES.items()}
STATES = {
    "open": pb.TICKET_STATE_OPEN,
    "scheduled": pb.TICKET_STATE_SCHEDULED,
    "in_progress": pb.TICKET_STATE_IN_PROGRESS,
    "resolved": pb.TICKET_STATE_RESOLVED,
    "dismissed": pb.TICKET_STATE_DISMISSED,
}
STATE_NAMES = {number: name for name, number in STATES.items()}
TicketStateName = Literal["open", "scheduled", "in_progress", "resolved", "dismissed"]


def ticket_body(ticket: pb.MaintenanceTicket) -> TicketResponse:
    return TicketResponse(
        id=ticket.id,
        equipment_id=ticket.equipment_id,
        title=ticket.title,
        description=ticket.description,
        priority=PRIORITY_NAMES[ticket.priority],
        state=STATE_NAMES[ticket.state],
        create_time=from_timestamp(ticket.create_time),
        update_time=from_timestamp(ticket.update_time),
        source_episode_id=ticket.source_episode_id,
        assignee=ticket.assignee,
        booking=booking_body(ticket.booking) if ticket.HasField("booking") else None,
    )


def booking_body(booking: pb.MaintenanceBooking) -> BookingResponse:
    return BookingResponse(
        planned_downtime_id=booking.planned_downtime_id,
        plant_id=booking.plant_id,
        station_id=booking.station_id,
        start_time=from_timestamp(booking.start_time),
        end_time=from_timestamp(booking.end_time),
    )


def note_body(note: pb.TicketNote) -> NoteResponse:
    return NoteResponse(
        id=note.id, author=note.author, text=note.text, create_time=from_timestamp(note.create_time)
    )


def window_body(window: schedule_pb2.MaintenanceWindow) -> WindowResponse:
    return WindowResponse(
        start_time=from_timestamp(window.start_time),
        end_time=from_timestamp(window.end_time),
        displaced_operation_s=window.displaced_operation_s,
        idle_s=window.idle_s,
        planned_stop_s=window.planned_stop_s,
        non_working_s=window.non_working_s,
        delayed_work_orders=[
            DelayedWorkOrderResponse(
                work_order_id=order.work_order_id,
                delay_s=order.delay_s,
                added_lateness_s=order.added_lateness_s,
            )
            for order in window.delayed_work_orders
        ],
        added_lateness_s=window.added_lateness_s,
        explanation=window.explanation,
    )


@router.post(
    "/v1/maintenance-tickets",
    status_code=status.HTTP_201_CREATED,
    summary="Open a maintenance ticket",
    responses=error_responses(401, 403, 422, 429, 503),
)
def open_ticket(body: OpenTicketRequest, ctx: OperatorCall, gateway: GatewayDep) -> TicketResponse:
    # The servitization service has no copy of the equipment; the gateway, which
    # composes the API, makes sure the ticket is about the caller's own machine.
    if not gateway.equipment_directory.exists(
        tenant_id=ctx.tenant_id, equipment_id=body.equipment_id
    ):
        raise InvalidArgument(
            "the ticket is not valid",
            violations=(FieldViolation("equipment_id", f"no equipment {body.equipment_id!r}"),),
        )
    response = gateway.call(
        gateway.backends.servitization.OpenMaintenanceTicket,
        pb.OpenMaintenanceTicketRequest(
            equipment_id=body.equipment_id,
            title=body.title,
            description=body.description,
            priority=PRIORITIES[body.priority],
        ),
        ctx,
    )
    return ticket_body(response.ticket)


@router.get(
    "/v1/maintenance-tickets",
    summary="List maintenance tickets",
    responses=error_responses(401, 422, 429, 503),
)
def list_tickets(
    ctx: ViewerCall,
    gateway: GatewayDep,
    equipment_id: Annotated[str, Query(max_length=36, description="Only this equipment")] = "",
    state: Annotated[
        list[TicketStateName] | None, Query(description="Only tickets in these states")
    ] = None,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[TicketResponse]:
    response = gateway.call(
        gateway.backends.servitization.ListMaintenanceTickets,
        pb.ListMaintenanceTicketsRequest(
            page_size=page_size,
            page_token=page_token,
            equipment_id=equipment_id,
            states=[STATES[name] for name in state or []],
        ),
        ctx,
    )
    return Page(
        items=[ticket_body(t) for t in response.tickets], next_page_token=response.next_page_token
    )


TICKET = "/v1/maintenance-tickets/{ticket_id}"


@router.get(
    TICKET,
    summary="One maintenance ticket with its notes",
    responses=error_responses(401, 404, 429, 503),
)
def get_ticket(ticket_id: str, ctx: ViewerCall, gateway: GatewayDep) -> TicketDetailResponse:
    response = gateway.call(
        gateway.backends.servitization.GetMaintenanceTicket,
        pb.GetMaintenanceTicketRequest(ticket_id=ticket_id),
        ctx,
    )
    return TicketDetailResponse(
        **ticket_body(response.ticket).model_dump(),
        notes=[note_body(n) for n in response.notes],
    )


@router.patch(
    TICKET,
    summary="Assign a ticket or set its priority",
    description="Refused (409) for a resolved or dismissed ticket.",
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
def update_ticket(
    ticket_id: str, body: UpdateTicketRequest, ctx: OperatorCall, gateway: GatewayDep
) -> TicketResponse:
    body.update_mask()
    request = pb.UpdateMaintenanceTicketRequest(ticket_id=ticket_id)
    if body.assignee is not None:
        request.assignee = body.assignee
    if body.priority is not None:
        request.priority = PRIORITIES[body.priority]
    response = gateway.call(gateway.backends.servitization.UpdateMaintenanceTicket, request, ctx)
    return ticket_body(response.ticket)


# One route for every step: the lifecycle is one table in servitization, which
# names both states when it refuses a move; booking has a route of its own, as it
# carries a window and reserves the station in production's schedule.
@router.post(
    TICKET + ":transition",
    summary="Move a ticket along its lifecycle",
    description=(
        "open -> in_progress | dismissed; scheduled -> open (removes the booked downtime) | "
        "in_progress; in_progress -> resolved | dismissed (removes a booked downtime that "
        "has not begun). Any other move is 409, naming both states. Resolving with "
        "reset_anomaly_model makes the machine's anomaly detector learn afresh."
    ),
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
def transition_ticket(
    ticket_id: str, body: TransitionTicketRequest, ctx: OperatorCall, gateway: GatewayDep
) -> TicketResponse:
    response = gateway.call(
        gateway.backends.servitization.TransitionMaintenanceTicket,
        pb.TransitionMaintenanceTicketRequest(
            ticket_id=ticket_id, to=STATES[body.to], reset_anomaly_model=body.reset_anomaly_model
        ),
        ctx,
    )
    return ticket_body(response.ticket)


@router.post(
    TICKET + "/notes",
    status_code=status.HTTP_201_CREATED,
    summary="Add a note to a ticket",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def add_note(
    ticket_id: str, body: NoteRequest, ctx: OperatorCall, gateway: GatewayDep
) -> NoteResponse:
    response = gateway.call(
        gateway.backends.servitization.AddMaintenanceTicketNote,
        pb.AddMaintenanceTicketNoteRequest(ticket_id=ticket_id, text=body.text),
        ctx,
    )
    return note_body(response.note)


@router.get(
    TICKET + "/history",
    summary="A ticket's changes, oldest first",
    responses=error_responses(401, 404, 422, 429, 503),
)
def ticket_history(
    ticket_id: str,
    ctx: ViewerCall,
    gateway: GatewayDep,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[ChangeResponse]:
    response = gateway.call(
        gateway.backends.servitization.ListMaintenanceTicketHistory,
        pb.ListMaintenanceTicketHistoryRequest(
            ticket_id=ticket_id, page_size=page_size, page_token=page_token
        ),
        ctx,
    )
    return Page(
        items=[
            ChangeResponse(
                actor=c.actor,
                change_time=from_timestamp(c.change_time),
                field=c.field,
                from_value=c.from_value,
                to_value=c.to_value,
                detail=c.detail,
            )
            for c in response.changes
        ],
        next_page_token=response.next_page_token,
    )


def _seconds_as_number(value: object) -> object:
    # A query gives "7200" as text, which pydantic reads as no duration at all.
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        return float(value)
    return value


@router.get(
    TICKET + "/suggested-windows",
    summary="Maintenance windows that cost production least",
    description=(
        "Windows of the given duration on the plan of the machine's station, the cheapest "
        "first: idle time, planned stops and time outside the shifts cost nothing; else the "
        "least operation time displaced, then the least lateness added. None overlaps an "
        "operation that has started (or starts within the frozen near horizon), and all end "
        "before the failure the ticket's priority predicts (not_after). 409 when the machine "
        "stands at no station or the ticket is closed."
    ),
    responses=error_responses(401, 404, 409, 422, 429, 503),
)
def suggested_windows(
    ticket_id: str,
    ctx: ViewerCall,
    gateway: GatewayDep,
    duration: Annotated[
        timedelta,
        BeforeValidator(_seconds_as_number),
        Query(description="How long the work takes, ISO 8601 (PT2H) or seconds; 1 min .. 31 days"),
    ] = timedelta(hours=2),
    count: Annotated[int, Query(ge=1, le=10, description="At most this many windows")] = 3,
) -> SuggestedWindowsResponse:
    # Whole seconds up, so a duration of 59.5 s is refused and not rounded to one minute.
    seconds = -int(-duration.total_seconds() // 1)
    response = gateway.call(
        gateway.backends.servitization.SuggestMaintenanceWindows,
        pb.SuggestMaintenanceWindowsRequest(ticket_id=ticket_id, duration_s=seconds, count=count),
        ctx,
    )
    return SuggestedWindowsResponse(
        station_id=response.station_id,
        not_after=from_timestamp(response.not_after),
        windows=[window_body(w) for w in response.windows],
    )


@router.post(
    TICKET + ":book",
    summary="Book a maintenance window",
    description=(
        "Reserves the machine's station for the window as planned downtime (its reason names "
        "the ticket); the scheduler plans production around it and the ticket is scheduled. "
        "Only an open ticket is booked (409 otherwise); moving it back to open removes the "
        "booking."
    ),
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
def book_window(
    ticket_id: str, body: BookWindowRequest, ctx: OperatorCall, gateway: GatewayDep
) -> TicketResponse:
    response = gateway.call(
        gateway.backends.servitization.BookMaintenanceWindow,
        pb.BookMaintenanceWindowRequest(
            ticket_id=ticket_id,
            start_time=timestamp(body.start_time),
            end_time=timestamp(body.end_time),
        ),
        ctx,
    )
    return ticket_body(response.ticket)
