"""ServitizationService over gRPC: translate, delegate to the domain, translate back."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from imcloud.servitization.v1 import servitization_service_pb2 as pb
from imcloud.servitization.v1 import servitization_service_pb2_grpc as pb_grpc
from imcloud_core.rpc import call_context, registrar
from imcloud_servitization.api.grpc_alarms import AlarmRpcs
from imcloud_servitization.api.grpc_customization import CustomizationRpcs
from imcloud_servitization.api.grpc_jobs import JobRpcs
from imcloud_servitization.api.grpc_maintenance import MaintenanceRpcs
from imcloud_servitization.api.grpc_webhooks import WebhookRpcs
from imcloud_servitization.convert import (
    COMMAND_STATES_BY_MESSAGE,
    command_message,
    parameters_from,
)
from imcloud_servitization.domain import commands
from imcloud_servitization.domain.customization import Configurators
from imcloud_servitization.domain.ports import (
    Machines,
    Production,
    Scheduler,
    Telemetry,
    UnitOfWork,
)
from imcloud_servitization.metrics import REPLAYS, count_state


class ServitizationServicer(
    MaintenanceRpcs,
    JobRpcs,
    CustomizationRpcs,
    WebhookRpcs,
    AlarmRpcs,
    pb_grpc.ServitizationServiceServicer,
):
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        *,
        scheduler: Scheduler,
        machines: Machines,
        production: Production,
        telemetry: Telemetry,
    ) -> None:
        self._uow = unit_of_work
        self._scheduler = scheduler
        self._machines = machines
        self._production = production
        self._telemetry = telemetry
        self._configurators = Configurators()

    # -- remote operation --

    def SendCommand(  # noqa: N802
        self, request: pb.SendCommandRequest, context: grpc.ServicerContext
    ) -> pb.SendCommandResponse:
        caller = call_context(context)
        sent = commands.send_command(
            self._uow(),
            tenant_id=caller.tenant_id,
            equipment_id=request.equipment_id,
            name=request.name,
            parameters=parameters_from(request.parameters_json),
            timeout_s=request.timeout_s,
            requested_by=caller.actor,
            idempotency_key=request.idempotency_key,
            job_id=request.job_id,
        )
        if sent.replayed:
            REPLAYS.inc()
        return pb.SendCommandResponse(command=command_message(sent.command), replayed=sent.replayed)

    def GetCommand(  # noqa: N802
        self, request: pb.GetCommandRequest, context: grpc.ServicerContext
    ) -> pb.GetCommandResponse:
        command = commands.get_command(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            command_id=request.command_id,
            maker_tenant_id=request.maker_tenant_id,
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
            maker_tenant_id=request.maker_tenant_id,
            job_id=request.job_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListCommandsResponse(
            commands=[command_message(c) for c in found], next_page_token=token
        )

    def CancelCommand(  # noqa: N802
        self, request: pb.CancelCommandRequest, context: grpc.ServicerContext
    ) -> pb.CancelCommandResponse:
        caller = call_context(context)
        command, newly = commands.cancel_command(
            self._uow(),
            tenant_id=caller.tenant_id,
            command_id=request.command_id,
            cancelled_by=caller.actor,
            maker_tenant_id=request.maker_tenant_id,
        )
        if newly:
            count_state(command)
        return pb.CancelCommandResponse(command=command_message(command))


register = registrar(pb, "ServitizationService", pb_grpc.add_ServitizationServiceServicer_to_server)
