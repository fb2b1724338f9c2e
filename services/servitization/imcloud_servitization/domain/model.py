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
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


@dataclass(frozen=True)
class MaintenanceBooking:
    """The window booked for a ticket: planned downtime of the machine's station."""

    planned_downtime_id: str
    plant_id: str
    station_id: str
    start_time: datetime
    end_time: datetime


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
    # Who is to do the work; empty while unassigned.
    assignee: str = ""
    # While a window is booked.
    booking: MaintenanceBooking | None = None


@dataclass(frozen=True)
class DelayedWorkOrder:
    work_order_id: str
    delay_s: float
    added_lateness_s: float


@dataclass(frozen=True)
class MaintenanceWindow:
    """A window production suggests for the work, with what it would cost production."""

    station_id: str
    plant_id: str
    start_time: datetime
    end_time: datetime
    displaced_operation_s: float
    idle_s: float
    planned_stop_s: float
    non_working_s: float
    delayed_work_orders: tuple[DelayedWorkOrder, ...]
    added_lateness_s: float
    explanation: str


@dataclass(frozen=True)
class TicketNote:
    id: str
    tenant_id: str
    ticket_id: str
    author: str
    text: str
    create_time: datetime


@dataclass(frozen=True)
class TicketChange:
    """One entry of a ticket's history: who changed which field from what to what."""

    id: str
    tenant_id: str
    ticket_id: str
    actor: str
    change_time: datetime
    # "opened", "state", "priority", "assignee", "booking" or "note".
    field: str
    from_value: str
    to_value: str
    detail: str = ""


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
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self not in WAITING


# The states in which a command still waits for the machine.
WAITING = frozenset({CommandState.PENDING, CommandState.DELIVERED})
# The machine's answers.
OUTCOMES = frozenset({CommandState.SUCCEEDED, CommandState.FAILED, CommandState.REJECTED})


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
    # Who cancelled it; empty unless it was.
    cancelled_by: str = ""
    # The client's key for its submission, and what identifies the request it came
    # with: the same key again returns this command only for the same request.
    idempotency_key: str = ""
    request_fingerprint: str = ""
    # Sends towards the machine so far, and when the next one is due while the
    # machine's receipt is missing (None once none is due).
    attempts: int = 0
    next_attempt_time: datetime | None = None
    # The machine answered after the platform had stopped waiting.
    late: bool = False
    # The fleet job it belongs to; empty for a command sent on its own.
    job_id: str = ""
