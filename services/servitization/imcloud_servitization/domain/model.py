"""After-sales work on machines: maintenance tickets and remote commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from imcloud_core.errors import FieldViolation, InvalidArgument

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000


class TicketPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class TicketState(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class MaintenanceTicket:
    id: str
    tenant_id: str
    equipment_id: str
    title: str
    description: str
    priority: TicketPriority
    state: TicketState
    create_time: datetime
    update_time: datetime
    # The anomaly episode that opened the ticket, for tickets the platform opened.
    source_episode_id: str = ""


def check_ticket_fields(*, equipment_id: str, title: str, description: str) -> None:
    violations = []
    if not equipment_id:
        violations.append(FieldViolation("equipment_id", "must name the equipment"))
    if not title.strip():
        violations.append(FieldViolation("title", "must not be empty"))
    elif len(title) > TITLE_MAX:
        violations.append(FieldViolation("title", f"must be at most {TITLE_MAX} characters"))
    if len(description) > DESCRIPTION_MAX:
        violations.append(
            FieldViolation("description", f"must be at most {DESCRIPTION_MAX} characters")
        )
    if violations:
        raise InvalidArgument("the ticket is not valid", violations=tuple(violations))


class CommandState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def ended(self) -> bool:
        return self not in WAITING


# The states in which a command still waits for the machine.
WAITING = frozenset({CommandState.PENDING, CommandState.DELIVERED})


@dataclass(frozen=True)
class RemoteCommand:
    id: str
    tenant_id: str
    equipment_id: str
    name: str
    parameters: dict[str, Any]
    state: CommandState
    detail: str
    requested_by: str
    create_time: datetime
    update_time: datetime
    expire_time: datetime
