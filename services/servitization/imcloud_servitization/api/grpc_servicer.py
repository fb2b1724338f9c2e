"""ServitizationService over gRPC: translate, delegate to the domain, translate back."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from imcloud.servitization.v1 import servitization_service_pb2 as pb
from imcloud.servitization.v1 import servitization_service_pb2_grpc as pb_grpc
from imcloud_core.rpc import call_context, registrar
from imcloud_servitization.api.convert import priority, ticket_message
from imcloud_servitization.domain import services
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


register = registrar(pb, "ServitizationService", pb_grpc.add_ServitizationServiceServicer_to_server)
