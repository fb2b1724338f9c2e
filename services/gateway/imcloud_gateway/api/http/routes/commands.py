"""Remote operation: commands for machines, from operators and from equipment
makers holding a commands:send grant (who see and cancel only what they sent)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status

from imcloud.servitization.v1 import commands_pb2
from imcloud.servitization.v1 import servitization_service_pb2 as pb
from imcloud_core.convert import from_timestamp
from imcloud_core.errors import NotFound
from imcloud_core.rpc import CallContext
from imcloud_gateway.api.http.context import HttpContext
from imcloud_gateway.api.http.deps import (
    GatewayDep,
    GrantedAccess,
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
    commands_pb2.COMMAND_STATE_CANCELLED: "cancelled",
}
STATES_BY_NAME = {name: state for state, name in STATE_NAMES.items()}
StateName = Literal[
    "pending", "delivered", "succeeded", "failed", "rejected", "expired", "cancelled"
]
StateFilter = Annotated[
    list[StateName] | None,
    Query(description="Only commands in these states (repeat it: ?state=pending&state=delivered)"),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Your key for this submission (printable ASCII, no spaces). Sending it again "
            "with the same body returns the command it made (200) instead of a new one; "
            "with another body: 409."
        ),
    ),
]
SEND_RESPONSES = {
    200: {"model": CommandResponse, "description": "The idempotency key's earlier command"},
    **error_responses(401, 403, 404, 409, 422, 429, 503),
}
SEND_DESCRIPTION = (
    "The command is recorded at once (pending) and sent over the machine's device link "
    "whenever it is connected, again with backoff until the machine confirms it got it "
    "(delivered); it ends succeeded, failed or rejected by the machine's answer, expired "
    "when no answer came within timeout_s (an answer after that is kept, marked late), or "
    "cancelled. The machine runs it once, however often it is sent."
)


def command_body(command: commands_pb2.RemoteCommand) -> CommandResponse:
    return CommandResponse(
        id=command.id,
        equipment_id=command.equipment_id,
        name=command.name,
        parameters=json.loads(command.parameters_json),
        state=STATE_NAMES[command.state],
        detail=command.detail,
        requested_by=command.requested_by,
        cancelled_by=command.cancelled_by,
        attempts=command.attempts,
        late=command.late,
        job_id=command.job_id,
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
    gateway: HttpContext,
    ctx: CallContext,
    equipment_id: str,
    body: SendCommandRequest,
    idempotency_key: str | None,
    response: Response,
) -> CommandResponse:
    _require_equipment(gateway, ctx, equipment_id)
    sent = gateway.call(
        gateway.backends.servitization.SendCommand,
        pb.SendCommandRequest(
            equipment_id=equipment_id,
            name=body.name,
            parameters_json=json.dumps(body.parameters),
            timeout_s=body.timeout_s,
            idempotency_key=idempotency_key or "",
        ),
        ctx,
    )
    if sent.replayed:
        response.status_code = status.HTTP_200_OK
    return command_body(sent.command)


def _list(
    gateway: HttpContext,
    ctx: CallContext,
    equipment_id: str,
    states: list[StateName] | None,
    page_size: int,
    page_token: str,
    maker_tenant_id: str = "",
) -> Page[CommandResponse]:
    response = gateway.call(
        gateway.backends.servitization.ListCommands,
        pb.ListCommandsRequest(
            equipment_id=equipment_id,
            states=[STATES_BY_NAME[name] for name in states or ()],
            page_size=page_size,
            page_token=page_token,
            maker_tenant_id=maker_tenant_id,
        ),
        ctx,
    )
    return Page(
        items=[command_body(c) for c in response.commands],
        next_page_token=response.next_page_token,
    )


def _cancel(
    gateway: HttpContext, ctx: CallContext, command_id: str, maker_tenant_id: str = ""
) -> CommandResponse:
    response = gateway.call(
        gateway.backends.servitization.CancelCommand,
        pb.CancelCommandRequest(command_id=command_id, maker_tenant_id=maker_tenant_id),
        ctx,
    )
    return command_body(response.command)


@router.post(
    "/v1/equipment/{equipment_id}/commands",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a command to a machine",
    description=SEND_DESCRIPTION,
    responses=SEND_RESPONSES,
)
def send_command(
    equipment_id: str,
    body: SendCommandRequest,
    ctx: OperatorCall,
    gateway: GatewayDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    return _send(gateway, ctx, equipment_id, body, idempotency_key, response)


@router.get(
    "/v1/equipment/{equipment_id}/commands",
    summary="A machine's commands, newest first",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def list_commands(
    equipment_id: str,
    ctx: ViewerCall,
    gateway: GatewayDep,
    state: StateFilter = None,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[CommandResponse]:
    _require_equipment(gateway, ctx, equipment_id)
    return _list(gateway, ctx, equipment_id, state, page_size, page_token)


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
    "/v1/commands/{command_id}:cancel",
    summary="Cancel a command the machine has not answered",
    description=(
        "A pending or delivered command becomes cancelled, with who cancelled it; it is "
        "never sent again, and the machine drops it unless it has already started it. "
        "Cancelling a cancelled command returns it unchanged; an answered or expired one: 409."
    ),
    responses=error_responses(401, 403, 404, 409, 429, 503),
)
def cancel_command(command_id: str, ctx: OperatorCall, gateway: GatewayDep) -> CommandResponse:
    return _cancel(gateway, ctx, command_id)


@router.post(
    "/v1/granted-equipment/{equipment_id}/commands",
    status_code=status.HTTP_202_ACCEPTED,
    summary="(Equipment makers) send a command to a granted machine",
    description=SEND_DESCRIPTION,
    responses={k: v for k, v in SEND_RESPONSES.items() if k != 403},
)
def send_granted_command(
    equipment_id: str,
    body: SendCommandRequest,
    granted: GrantedDep,
    gateway: GatewayDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    ctx = granted.context(equipment_id, Scope.COMMANDS_SEND)
    return _send(gateway, ctx, equipment_id, body, idempotency_key, response)


@router.get(
    "/v1/granted-equipment/{equipment_id}/commands",
    summary="(Equipment makers) the commands you sent to a granted machine, newest first",
    responses=error_responses(401, 404, 422, 429, 503),
)
def list_granted_commands(
    equipment_id: str,
    granted: GrantedDep,
    gateway: GatewayDep,
    state: StateFilter = None,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[CommandResponse]:
    ctx = granted.context(equipment_id, Scope.COMMANDS_SEND)
    return _list(
        gateway, ctx, equipment_id, state, page_size, page_token, granted.principal.tenant_id
    )


def _sent_by_maker(
    gateway: HttpContext, granted: GrantedAccess, equipment_id: str, command_id: str
) -> tuple[CallContext, commands_pb2.RemoteCommand]:
    """The maker's own command on the granted machine (else 404), and the call context."""
    ctx = granted.context(equipment_id, Scope.COMMANDS_SEND)
    command = gateway.call(
        gateway.backends.servitization.GetCommand,
        pb.GetCommandRequest(command_id=command_id, maker_tenant_id=granted.principal.tenant_id),
        ctx,
    ).command
    if command.equipment_id != equipment_id:
        raise NotFound(f"command {command_id!r} not found")
    return ctx, command


@router.get(
    "/v1/granted-equipment/{equipment_id}/commands/{command_id}",
    summary="(Equipment makers) one command you sent to a granted machine",
    responses=error_responses(401, 404, 429, 503),
)
def get_granted_command(
    equipment_id: str, command_id: str, granted: GrantedDep, gateway: GatewayDep
) -> CommandResponse:
    _, command = _sent_by_maker(gateway, granted, equipment_id, command_id)
    return command_body(command)


@router.post(
    "/v1/granted-equipment/{equipment_id}/commands/{command_id}:cancel",
    summary="(Equipment makers) cancel a command you sent to a granted machine",
    description="As for the customer's own commands: pending or delivered only, else 409.",
    responses=error_responses(401, 404, 409, 429, 503),
)
def cancel_granted_command(
    equipment_id: str, command_id: str, granted: GrantedDep, gateway: GatewayDep
) -> CommandResponse:
    ctx, _ = _sent_by_maker(gateway, granted, equipment_id, command_id)
    return _cancel(gateway, ctx, command_id, granted.principal.tenant_id)
