"""Maintenance tickets, stored by the servitization service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from imcloud.servitization.v1 import servitization_service_pb2 as pb
from imcloud_core.convert import from_timestamp
from imcloud_core.errors import FieldViolation, InvalidArgument
from imcloud_gateway.api.http.deps import GatewayDep, OperatorCall, PageSize, PageToken, ViewerCall
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.servitization import OpenTicketRequest, TicketResponse

router = APIRouter(tags=["servitization"])

PRIORITIES = {
    "low": pb.TICKET_PRIORITY_LOW,
    "medium": pb.TICKET_PRIORITY_MEDIUM,
    "high": pb.TICKET_PRIORITY_HIGH,
    "critical": pb.TICKET_PRIORITY_CRITICAL,
}
PRIORITY_NAMES = {number: name for name, number in PRIORITIES.items()}
STATE_NAMES = {
    pb.TICKET_STATE_OPEN: "open",
    pb.TICKET_STATE_IN_PROGRESS: "in_progress",
    pb.TICKET_STATE_RESOLVED: "resolved",
}


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
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[TicketResponse]:
    response = gateway.call(
        gateway.backends.servitization.ListMaintenanceTickets,
        pb.ListMaintenanceTicketsRequest(
            page_size=page_size, page_token=page_token, equipment_id=equipment_id
        ),
        ctx,
    )
    return Page(
        items=[ticket_body(t) for t in response.tickets], next_page_token=response.next_page_token
    )
