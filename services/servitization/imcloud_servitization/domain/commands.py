"""Remote operation: the command ledger, from request to outcome.

A command is PENDING until the machine confirms it got it (its receipt makes it
DELIVERED), then ends SUCCEEDED, FAILED or REJECTED by the machine's answer, or
EXPIRED when no answer came in time, or CANCELLED by a person before that.
While the receipt is missing the command is sent again with backoff, so a send
lost with a gateway reaches the machine anyway; the machine runs each command
id once. An answer that comes after the platform stopped waiting is kept and
marked late, never dropped; every other repeated or late report changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from imcloud_core.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from imcloud_core.ids import new_id, utcnow
from imcloud_core.nesting import MAX_NESTING, nesting_depth
from imcloud_core.paging import page_size
from imcloud_servitization.domain.events import (
    CommandCancelled,
    CommandRequested,
    CommandStateChanged,
)
from imcloud_servitization.domain.model import (
    OUTCOMES,
    CommandState,
    RemoteCommand,
)
from imcloud_servitization.domain.ports import UnitOfWork

COMMAND_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
# Printable ASCII, as an HTTP header carries it.
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
MAX_PARAMETERS_BYTES = 16_384
DEFAULT_TIMEOUT_S = 300
MAX_TIMEOUT_S = 86_400
# A send without the machine's receipt is repeated after 5 s, 10 s, 20 s, ... at
# most a minute apart, until the receipt or the expiry.
FIRST_RESEND_S = 5.0
LONGEST_RESEND_S = 60.0
# Resends per sweep, so a backlog after an outage goes out in bounded transactions.
RESENDS_PER_SWEEP = 500


@dataclass(frozen=True)
class SentCommand:
    command: RemoteCommand
    # The idempotency key named a command made earlier: nothing new was recorded.
    replayed: bool


def resend_delay(attempts: int) -> timedelta:
    """How long after its ``attempts``-th send a command without receipt goes again."""
    exponent = min(max(attempts - 1, 0), 16)
    return timedelta(seconds=min(FIRST_RESEND_S * 2**exponent, LONGEST_RESEND_S))


def requested_through_grant_of(command: RemoteCommand, maker_tenant_id: str) -> bool:
    """Whether an equipment maker of that tenant sent the command through a grant
    (its requested_by is "<actor>@<maker tenant id>")."""
    return command.requested_by.endswith(f"@{maker_tenant_id}")


def send_command(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    equipment_id: str,
    name: str,
    parameters: dict[str, Any],
    timeout_s: int,
    requested_by: str,
    idempotency_key: str = "",
    job_id: str = "",
) -> SentCommand:
    """Records a command and sends it; with an idempotency key used before, the
    command made then (for the same request) instead."""
    _check(
        equipment_id=equipment_id,
        name=name,
        parameters=parameters,
        timeout_s=timeout_s,
        idempotency_key=idempotency_key,
    )
    timeout_s = timeout_s or DEFAULT_TIMEOUT_S
    # Without a key nothing is compared later: a command without one never clashes.
    fingerprint = (
        _fingerprint(
            equipment_id=equipment_id,
            name=name,
            parameters=parameters,
            timeout_s=timeout_s,
            requested_by=requested_by,
            job_id=job_id,
        )
        if idempotency_key
        else ""
    )
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
        expire_time=now + timedelta(seconds=timeout_s),
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        attempts=1,
        next_attempt_time=now + resend_delay(1),
        job_id=job_id,
    )
    with uow:
        if uow.commands.add(command):
            uow.record(CommandRequested(command))
            return SentCommand(command, replayed=False)
        earlier = uow.commands.with_idempotency_key(tenant_id=tenant_id, key=idempotency_key)
    if earlier is None or earlier.request_fingerprint != fingerprint:
        raise AlreadyExists(
            f"idempotency key {idempotency_key!r} was used for another request; "
            "use a new key for a new command"
        )
    return SentCommand(earlier, replayed=True)


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

    Only the machine the command is for can answer it. Its receipt makes a
    PENDING command DELIVERED; its answer ends a waiting command, and is kept as
    late on one that expired or was cancelled meanwhile (the machine's outcome
    is the truth, and the first late answer is the one kept).
    """
    with uow:
        command = uow.commands.get(tenant_id=tenant_id, command_id=command_id, for_update=True)
        if command is None or command.equipment_id != equipment_id:
            return None
        now = utcnow()
        if to is CommandState.DELIVERED:
            if command.state is not CommandState.PENDING:
                return None
            changed = replace(command, state=to, update_time=now, next_attempt_time=None)
        elif to not in OUTCOMES:
            return None
        elif not command.state.ended:
            changed = replace(
                command, state=to, detail=detail, update_time=now, next_attempt_time=None
            )
        elif command.state in (CommandState.EXPIRED, CommandState.CANCELLED):
            changed = replace(command, state=to, detail=detail, update_time=now, late=True)
        else:
            return None
        uow.commands.save(changed)
        uow.record(CommandStateChanged(changed))
    return changed


def cancel_command(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    command_id: str,
    cancelled_by: str,
    maker_tenant_id: str = "",
) -> tuple[RemoteCommand, bool]:
    """Cancels a command the machine has not answered; the machine is told, and
    drops it if it has not started it. Cancelling it again changes nothing (the
    second value says whether this call cancelled it)."""
    with uow:
        command = _visible(
            uow.commands.get(tenant_id=tenant_id, command_id=command_id, for_update=True),
            command_id=command_id,
            maker_tenant_id=maker_tenant_id,
        )
        if command.state is CommandState.CANCELLED:
            return command, False
        if command.state.ended:
            raise FailedPrecondition(
                f"command {command_id!r} is already {command.state.value}: only a pending "
                "or delivered command can be cancelled"
            )
        cancelled = replace(
            command,
            state=CommandState.CANCELLED,
            detail=f"cancelled by {cancelled_by}",
            cancelled_by=cancelled_by,
            update_time=utcnow(),
            next_attempt_time=None,
        )
        uow.commands.save(cancelled)
        uow.record(CommandStateChanged(cancelled))
        uow.record(CommandCancelled(cancelled))
    return cancelled, True


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
            changed = replace(
                command,
                state=CommandState.EXPIRED,
                detail=detail,
                update_time=now,
                next_attempt_time=None,
            )
            uow.commands.save(changed)
            uow.record(CommandStateChanged(changed))
            expired.append(changed)
    return expired


def resend_unconfirmed(uow: UnitOfWork, *, now: datetime) -> list[RemoteCommand]:
    """Sends again every pending command whose resend is due (no receipt yet)."""
    resent = []
    with uow:
        for command in uow.commands.due_for_resend(now=now, limit=RESENDS_PER_SWEEP):
            attempts = command.attempts + 1
            again = replace(
                command, attempts=attempts, next_attempt_time=now + resend_delay(attempts)
            )
            uow.commands.save(again)
            uow.record(CommandRequested(again))
            resent.append(again)
    return resent


def get_command(
    uow: UnitOfWork, *, tenant_id: str, command_id: str, maker_tenant_id: str = ""
) -> RemoteCommand:
    with uow:
        found = uow.commands.get(tenant_id=tenant_id, command_id=command_id)
    return _visible(found, command_id=command_id, maker_tenant_id=maker_tenant_id)


def list_commands(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    equipment_id: str,
    states: list[CommandState],
    requested_page_size: int,
    page_token: str,
    maker_tenant_id: str = "",
    job_id: str = "",
) -> tuple[list[RemoteCommand], str]:
    size = page_size(requested_page_size)
    with uow:
        return uow.commands.list(
            tenant_id=tenant_id,
            equipment_id=equipment_id,
            states=states,
            maker_tenant_id=maker_tenant_id,
            job_id=job_id,
            page_size=size,
            page_token=page_token,
        )


def _visible(
    command: RemoteCommand | None, *, command_id: str, maker_tenant_id: str
) -> RemoteCommand:
    """The command, if the caller may see it: an equipment maker only its own."""
    if command is None or (
        maker_tenant_id and not requested_through_grant_of(command, maker_tenant_id)
    ):
        raise NotFound(f"command {command_id!r} not found")
    return command


def _fingerprint(
    *,
    equipment_id: str,
    name: str,
    parameters: dict[str, Any],
    timeout_s: int,
    requested_by: str,
    job_id: str,
) -> str:
    """What makes two submissions the same request. The requester's tenant is part
    of it (not the key that sent it): an equipment maker reusing the customer's
    key gets a conflict, never the customer's command."""
    request = {
        "equipment_id": equipment_id,
        "name": name,
        "parameters": parameters,
        "timeout_s": timeout_s,
        "requester_tenant": requested_by.rpartition("@")[2] if "@" in requested_by else "",
        "job_id": job_id,
    }
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def request_violations(
    *, name: str | None, document: Any, document_field: str, timeout_s: int, prefix: str = ""
) -> list[FieldViolation]:
    """What is wrong with what a machine is asked to do: the command's name (None
    when it has none), its JSON document and its timeout, each field named under
    ``prefix``."""
    violations = []
    if name is not None and not COMMAND_NAME.match(name):
        violations.append(
            FieldViolation(
                f"{prefix}name", "must start with a letter; letters, digits, '_', '.', '-'"
            )
        )
    field_name = f"{prefix}{document_field}"
    if nesting_depth(document) > MAX_NESTING:
        violations.append(
            FieldViolation(field_name, f"at most {MAX_NESTING} levels of nested objects and lists")
        )
    elif len(json.dumps(document)) > MAX_PARAMETERS_BYTES:
        violations.append(
            FieldViolation(field_name, f"at most {MAX_PARAMETERS_BYTES} bytes as JSON")
        )
    if not 0 <= timeout_s <= MAX_TIMEOUT_S:
        violations.append(FieldViolation(f"{prefix}timeout_s", f"must be 1..{MAX_TIMEOUT_S}"))
    return violations


def _check(
    *,
    equipment_id: str,
    name: str,
    parameters: dict[str, Any],
    timeout_s: int,
    idempotency_key: str,
) -> None:
    violations = []
    if not equipment_id:
        violations.append(FieldViolation("equipment_id", "must name the machine"))
    violations += request_violations(
        name=name, document=parameters, document_field="parameters", timeout_s=timeout_s
    )
    if idempotency_key and not IDEMPOTENCY_KEY.match(idempotency_key):
        violations.append(
            FieldViolation("idempotency_key", "at most 200 printable ASCII characters, no spaces")
        )
    if violations:
        raise InvalidArgument("the command is not valid", violations=tuple(violations))
