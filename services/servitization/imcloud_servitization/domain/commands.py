"""Remote operation: commands for machines, followed from request to outcome.

A command is PENDING until the device link hands it to the machine
(DELIVERED), then ends SUCCEEDED, FAILED or REJECTED by the machine's answer,
or EXPIRED when no answer came in time. Ended commands never change again, so
late or repeated reports are harmless.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from imcloud_core.errors import FieldViolation, InvalidArgument, NotFound
from imcloud_core.ids import new_id, utcnow
from imcloud_core.nesting import MAX_NESTING, nesting_depth
from imcloud_core.paging import page_size
from imcloud_servitization.domain.events import CommandRequested, CommandStateChanged
from imcloud_servitization.domain.model import CommandState, RemoteCommand
from imcloud_servitization.domain.ports import UnitOfWork

COMMAND_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
MAX_PARAMETERS_BYTES = 16_384
DEFAULT_TIMEOUT_S = 300
MAX_TIMEOUT_S = 86_400


def send_command(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    equipment_id: str,
    name: str,
    parameters: dict[str, Any],
    timeout_s: int,
    requested_by: str,
) -> RemoteCommand:
    _check(equipment_id=equipment_id, name=name, parameters=parameters, timeout_s=timeout_s)
    now = utcnow()
    command = RemoteCommand(
        id=new_id(),
        tenant_id=tenant_id,
        equipment_id=equipment_id,
        name=name,
        parameters=parameters,
        state=CommandState.PENDING,
        detail="",
        requested_by=requested_by,
        create_time=now,
        update_time=now,
        expire_time=now + timedelta(seconds=timeout_s or DEFAULT_TIMEOUT_S),
    )
    with uow:
        uow.commands.add(command)
        uow.record(CommandRequested(command))
    return command


def progress(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    equipment_id: str,
    command_id: str,
    to: CommandState,
    detail: str,
) -> RemoteCommand | None:
    """Moves a command on after news from the device link; None if nothing changed.

    Only the machine the command is for can answer it.
    """
    with uow:
        command = uow.commands.get(tenant_id=tenant_id, command_id=command_id)
        if command is None or command.equipment_id != equipment_id:
            return None
        if command.state.ended or command.state is to:
            return None
        changed = replace(command, state=to, detail=detail, update_time=utcnow())
        uow.commands.save(changed)
        uow.record(CommandStateChanged(changed))
    return changed


def expire_overdue(uow: UnitOfWork, *, now: datetime) -> list[RemoteCommand]:
    """Ends every command past its expiry without an answer, saying why."""
    expired = []
    with uow:
        for command in uow.commands.overdue(now=now):
            detail = (
                "the machine did not answer in time"
                if command.state is CommandState.DELIVERED
                else "the machine was not connected before the command expired"
            )
            changed = replace(command, state=CommandState.EXPIRED, detail=detail, update_time=now)
            uow.commands.save(changed)
            uow.record(CommandStateChanged(changed))
            expired.append(changed)
    return expired


def get_command(uow: UnitOfWork, *, tenant_id: str, command_id: str) -> RemoteCommand:
    with uow:
        command = uow.commands.get(tenant_id=tenant_id, command_id=command_id)
    if command is None:
        raise NotFound(f"command {command_id!r} not found")
    return command


def list_commands(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    equipment_id: str,
    states: list[CommandState],
    requested_page_size: int,
    page_token: str,
) -> tuple[list[RemoteCommand], str]:
    size = page_size(requested_page_size)
    with uow:
        return uow.commands.list(
            tenant_id=tenant_id,
            equipment_id=equipment_id,
            states=states,
            page_size=size,
            page_token=page_token,
        )


def _check(*, equipment_id: str, name: str, parameters: dict[str, Any], timeout_s: int) -> None:
    violations = []
    if not equipment_id:
        violations.append(FieldViolation("equipment_id", "must name the machine"))
    if not COMMAND_NAME.match(name):
        violations.append(
            FieldViolation("name", "must start with a letter; letters, digits, '_', '.', '-'")
        )
    if nesting_depth(parameters) > MAX_NESTING:
        violations.append(
            FieldViolation(
                "parameters", f"at most {MAX_NESTING} levels of nested objects and lists"
            )
        )
    elif len(json.dumps(parameters)) > MAX_PARAMETERS_BYTES:
        violations.append(
            FieldViolation("parameters", f"at most {MAX_PARAMETERS_BYTES} bytes as JSON")
        )
    if not 0 <= timeout_s <= MAX_TIMEOUT_S:
        violations.append(FieldViolation("timeout_s", f"must be 1..{MAX_TIMEOUT_S}"))
    if violations:
        raise InvalidArgument("the command is not valid", violations=tuple(violations))
