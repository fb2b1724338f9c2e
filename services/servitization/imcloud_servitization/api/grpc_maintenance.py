"""The ServitizationService RPCs of maintenance tickets. Translate, delegate, translate back."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from prometheus_client import Counter

from imcloud.servitization.v1 import maintenance_pb2 as mpb
from imcloud.servitization.v1 import servitization_service_pb2 as pb
from imcloud_core.convert import from_timestamp, timestamp
from imcloud_core.errors import FieldViolation, InvalidArgument
from imcloud_core.rpc import call_context
from imcloud_servitization.convert import (
    PRIORITIES_BY_MESSAGE,
    STATES_BY_MESSAGE,
    change_message,
    note_message,
    priority,
    ticket_message,
    window_message,
)
from imcloud_servitization.domain import maintenance, services
from imcloud_servitization.domain.ports import Machines, Scheduler, UnitOfWork

TRANSITIONS = Counter(
    "imcloud_servitization_ticket_transitions_total",
    "Maintenance tickets moved along their lifecycle, by the state they reached",
    ["state"],
)


class MaintenanceRpcs:
    _uow: Callable[[], UnitOfWork]
    _scheduler: Scheduler
    _machines: Machines

    def OpenMaintenanceTicket(  # noqa: N802 - gRPC method names are PascalCase
        self, request: pb.OpenMaintenanceTicketRequest, context: grpc.ServicerContext
    ) -> pb.OpenMaintenanceTicketResponse:
        caller = call_context(context)
        ticket = services.open_maintenance_ticket(
            self._uow(),
            tenant_id=caller.tenant_id,
            equipment_id=request.equipment_id,
            title=request.title,
            description=request.description,
            priority=priority(request.priority),
            actor=caller.actor,
        )
        return pb.OpenMaintenanceTicketResponse(ticket=ticket_message(ticket))

    def ListMaintenanceTickets(  # noqa: N802
        self, request: pb.ListMaintenanceTicketsRequest, context: grpc.ServicerContext
    ) -> pb.ListMaintenanceTicketsResponse:
        tickets, token = services.list_maintenance_tickets(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            equipment_id=request.equipment_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
            states=[STATES_BY_MESSAGE[s] for s in request.states if s in STATES_BY_MESSAGE],
        )
        return pb.ListMaintenanceTicketsResponse(
            tickets=[ticket_message(t) for t in tickets], next_page_token=token
        )

    def GetMaintenanceTicket(  # noqa: N802
        self, request: mpb.GetMaintenanceTicketRequest, context: grpc.ServicerContext
    ) -> mpb.GetMaintenanceTicketResponse:
        ticket, notes = maintenance.get_ticket(
            self._uow(), tenant_id=call_context(context).tenant_id, ticket_id=request.ticket_id
        )
        return mpb.GetMaintenanceTicketResponse(
            ticket=ticket_message(ticket), notes=[note_message(n) for n in notes]
        )

    def UpdateMaintenanceTicket(  # noqa: N802
        self, request: mpb.UpdateMaintenanceTicketRequest, context: grpc.ServicerContext
    ) -> mpb.UpdateMaintenanceTicketResponse:
        caller = call_context(context)
        ticket = maintenance.update_ticket(
            self._uow(),
            tenant_id=caller.tenant_id,
            ticket_id=request.ticket_id,
            assignee=request.assignee if request.HasField("assignee") else None,
            priority=PRIORITIES_BY_MESSAGE.get(request.priority),
            actor=caller.actor,
        )
        return mpb.UpdateMaintenanceTicketResponse(ticket=ticket_message(ticket))

    def TransitionMaintenanceTicket(  # noqa: N802
        self, request: mpb.TransitionMaintenanceTicketRequest, context: grpc.ServicerContext
    ) -> mpb.TransitionMaintenanceTicketResponse:
        caller = call_context(context)
        ticket = maintenance.transition(
            self._uow(),
            self._scheduler,
            self._machines,
            tenant_id=caller.tenant_id,
            ticket_id=request.ticket_id,
            to=STATES_BY_MESSAGE.get(request.to),
            reset_anomaly_model=request.reset_anomaly_model,
            actor=caller.actor,
        )
        TRANSITIONS.labels(ticket.state.value).inc()
        return mpb.TransitionMaintenanceTicketResponse(ticket=ticket_message(ticket))

    def AddMaintenanceTicketNote(  # noqa: N802
        self, request: mpb.AddMaintenanceTicketNoteRequest, context: grpc.ServicerContext
    ) -> mpb.AddMaintenanceTicketNoteResponse:
        caller = call_context(context)
        note = maintenance.add_note(
            self._uow(),
            tenant_id=caller.tenant_id,
            ticket_id=request.ticket_id,
            text=request.text,
            author=caller.actor,
        )
        return mpb.AddMaintenanceTicketNoteResponse(note=note_message(note))

    def ListMaintenanceTicketHistory(  # noqa: N802
        self, request: mpb.ListMaintenanceTicketHistoryRequest, context: grpc.ServicerContext
    ) -> mpb.ListMaintenanceTicketHistoryResponse:
        changes, token = maintenance.history(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            ticket_id=request.ticket_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return mpb.ListMaintenanceTicketHistoryResponse(
            changes=[change_message(c) for c in changes], next_page_token=token
        )

    def SuggestMaintenanceWindows(  # noqa: N802
        self, request: mpb.SuggestMaintenanceWindowsRequest, context: grpc.ServicerContext
    ) -> mpb.SuggestMaintenanceWindowsResponse:
        found = maintenance.suggest_windows(
            self._uow(),
            self._scheduler,
            self._machines,
            tenant_id=call_context(context).tenant_id,
            ticket_id=request.ticket_id,
            duration_s=request.duration_s,
            count=request.count,
        )
        return mpb.SuggestMaintenanceWindowsResponse(
            windows=[window_message(w) for w in found.windows],
            not_after=timestamp(found.not_after),
            station_id=found.station_id,
        )

    def BookMaintenanceWindow(  # noqa: N802
        self, request: mpb.BookMaintenanceWindowRequest, context: grpc.ServicerContext
    ) -> mpb.BookMaintenanceWindowResponse:
        missing = [
            FieldViolation(name, "is required")
            for name in ("start_time", "end_time")
            if not request.HasField(name)
        ]
        if missing:
            raise InvalidArgument("the window is not valid", violations=tuple(missing))
        caller = call_context(context)
        ticket = maintenance.book_window(
            self._uow(),
            self._scheduler,
            self._machines,
            tenant_id=caller.tenant_id,
            ticket_id=request.ticket_id,
            start=from_timestamp(request.start_time),
            end=from_timestamp(request.end_time),
            actor=caller.actor,
        )
        TRANSITIONS.labels(ticket.state.value).inc()
        return mpb.BookMaintenanceWindowResponse(ticket=ticket_message(ticket))
