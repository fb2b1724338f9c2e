"""ServitizationService over gRPC: translate, delegate to the domain, translate back."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from imcloud.servitization.v1 import servitization_service_pb2 as pb
from imcloud.servitization.v1 import servitization_service_pb2_grpc as pb_grpc
from imcloud_core.rpc import call_context, registrar
from imcloud_servitization.convert import (
    COMMAND_STATES_BY_MESSAGE,
    command_message,
    parameters_from,
    priority,
    ticket_message,
)
from imcloud_servitization.domain import commands, services
from imcloud_servitization.domain.ports import UnitOfWork


class ServitizationServicer(pb_grpc.ServitizationServiceServicer):
    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._uow = unit_of_work

    def OpenMaintenanceTicket(  # noqa: N802 - gRPC method names are PascalCase
        self, request: pb.OpenMaintenanceTicketRequest, context: grpc.ServicerContext
    ) -> pb.OpenMaintenanceTicketResponse:
        ticket = services.open_maintenance_ticket(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            equipment_id=request.equipment_id,
            title=request.title,
            description=request.description,
            priority=priority(request.priority),
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
        )
        return pb.ListMaintenanceTicketsResponse(
            tickets=[ticket_message(t) for t in tickets], next_page_token=token
        )

    # -- remote operation --

    def SendCommand(  # noqa: N802
        self, request: pb.SendCommandRequest, context: grpc.ServicerContext
    ) -> pb.SendCommandResponse:
        command = commands.send_command(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            equipment_id=request.equipment_id,
            name=request.name,
            parameters=parameters_from(request.parameters),
            timeout_s=request.timeout_s,
            requested_by=call_context(context).actor,
        )
        return pb.SendCommandResponse(command=command_message(command))

    def GetCommand(  # noqa: N802
        self, request: pb.GetCommandRequest, context: grpc.ServicerContext
    ) -> pb.GetCommandResponse:
        command = commands.get_command(
            self._uow(), tenant_id=call_context(context).tenant_id, command_id=request.command_id
        )
        return pb.GetCommandResponse(command=command_message(command))

    def ListCommands(  # noqa: N802
        self, request: pb.ListCommandsRequest, context: grpc.ServicerContext
    ) -> pb.ListCommandsResponse:
        found, token = commands.list_commands(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            equipment_id=request.equipment_id,
            states=[
                COMMAND_STATES_BY_MESSAGE[s]
                for s in request.states
                if s in COMMAND_STATES_BY_MESSAGE
            ],
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListCommandsResponse(
            commands=[command_message(c) for c in found], next_page_token=token
        )


register = registrar(pb, "ServitizationService", pb_grpc.add_ServitizationServiceServicer_to_server)
