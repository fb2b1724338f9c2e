"""Remote operation: commands for machines, from operators and from equipment
makers holding a commands:send grant."""

from __future__ import annotations

import json

from fastapi import APIRouter, status
from google.protobuf.struct_pb2 import Struct

from imcloud.servitization.v1 import commands_pb2
from imcloud.servitization.v1 import servitization_service_pb2 as pb
from imcloud_core.convert import from_timestamp
from imcloud_core.errors import NotFound
from imcloud_core.rpc import CallContext
from imcloud_gateway.api.http.context import HttpContext
from imcloud_gateway.api.http.deps import (
    GatewayDep,
    GrantedDep,
    OperatorCall,
    PageSize,
    PageToken,
    ViewerCall,
)
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.servitization import CommandResponse, SendCommandRequest
from imcloud_gateway.domain.model import Scope

router = APIRouter(tags=["servitization"])

STATE_NAMES = {
    commands_pb2.COMMAND_STATE_PENDING: "pending",
    commands_pb2.COMMAND_STATE_DELIVERED: "delivered",
    commands_pb2.COMMAND_STATE_SUCCEEDED: "succeeded",
    commands_pb2.COMMAND_STATE_FAILED: "failed",
    commands_pb2.COMMAND_STATE_REJECTED: "rejected",
    commands_pb2.COMMAND_STATE_EXPIRED: "expired",
}


def command_body(command: commands_pb2.RemoteCommand) -> CommandResponse:
    return CommandResponse(
        id=command.id,
        equipment_id=command.equipment_id,
        name=command.name,
        parameters=json.loads(command.parameters_json),
        state=STATE_NAMES[command.state],
        detail=command.detail,
        requested_by=command.requested_by,
        create_time=from_timestamp(command.create_time),
        update_time=from_timestamp(command.update_time),
        expire_time=from_timestamp(command.expire_time),
    )


def _require_equipment(gateway: HttpContext, ctx: CallContext, equipment_id: str) -> None:
    # Servitization keeps no copy of the equipment; the gateway composes the API
    # and checks that the machine is the caller's.
    if not gateway.equipment_directory.exists(tenant_id=ctx.tenant_id, equipment_id=equipment_id):
        raise NotFound(f"equipment {equipment_id!r} not found")


def _send(
    gateway: HttpContext, ctx: CallContext, equipment_id: str, body: SendCommandRequest
) -> CommandResponse:
    _require_equipment(gateway, ctx, equipment_id)
    parameters = Struct()
    parameters.update(body.parameters)
    response = gateway.call(
        gateway.backends.servitization.SendCommand,
        pb.SendCommandRequest(
            equipment_id=equipment_id,
            name=body.name,
            parameters=parameters,
            timeout_s=body.timeout_s,
        ),
        ctx,
    )
    return command_body(response.command)


def _list(
    gateway: HttpContext, ctx: CallContext, equipment_id: str, page_size: int, page_token: str
) -> Page[CommandResponse]:
    response = gateway.call(
        gateway.backends.servitization.ListCommands,
        pb.ListCommandsRequest(
            equipment_id=equipment_id, page_size=page_size, page_token=page_token
        ),
        ctx,
    )
    return Page(
        items=[command_body(c) for c in response.commands],
        next_page_token=response.next_page_token,
    )


@router.post(
    "/v1/equipment/{equipment_id}/commands",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a command to a machine",
    description=(
        "The command is recorded at once (pending), delivered over the machine's device "
        "link when it is connected, and ends succeeded, failed or rejected by the machine's "
        "answer, or expired when no answer came within timeout_s."
    ),
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def send_command(
    equipment_id: str, body: SendCommandRequest, ctx: OperatorCall, gateway: GatewayDep
) -> CommandResponse:
    return _send(gateway, ctx, equipment_id, body)


@router.get(
    "/v1/equipment/{equipment_id}/commands",
    summary="A machine's commands, newest first",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def list_commands(
    equipment_id: str,
    ctx: ViewerCall,
    gateway: GatewayDep,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[CommandResponse]:
    _require_equipment(gateway, ctx, equipment_id)
    return _list(gateway, ctx, equipment_id, page_size, page_token)


@router.get(
    "/v1/commands/{command_id}",
    summary="One command and its state",
    responses=error_responses(401, 403, 404, 429, 503),
)
def get_command(command_id: str, ctx: ViewerCall, gateway: GatewayDep) -> CommandResponse:
    response = gateway.call(
        gateway.backends.servitization.GetCommand,
        pb.GetCommandRequest(command_id=command_id),
        ctx,
    )
    return command_body(response.command)


@router.post(
    "/v1/granted-equipment/{equipment_id}/commands",
    status_code=status.HTTP_202_ACCEPTED,
    summary="(Equipment makers) send a command to a granted machine",
    responses=error_responses(401, 404, 422, 429, 503),
)
def send_granted_command(
    equipment_id: str, body: SendCommandRequest, granted: GrantedDep, gateway: GatewayDep
) -> CommandResponse:
    ctx = granted.context(equipment_id, Scope.COMMANDS_SEND)
    return _send(gateway, ctx, equipment_id, body)


@router.get(
    "/v1/granted-equipment/{equipment_id}/commands",
    summary="(Equipment makers) a granted machine's commands, newest first",
    responses=error_responses(401, 404, 422, 429, 503),
)
def list_granted_commands(
    equipment_id: str,
    granted: GrantedDep,
    gateway: GatewayDep,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[CommandResponse]:
    ctx = granted.context(equipment_id, Scope.COMMANDS_SEND)
    return _list(gateway, ctx, equipment_id, page_size, page_token)
