"""Bodies of the maintenance routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from imcloud_core.nesting import MAX_NESTING, nesting_depth
from imcloud_gateway.api.http.schemas.common import Body, PatchBody
from imcloud_gateway.api.http.schemas.production import Instant

TicketPriorityName = Literal["low", "medium", "high", "critical"]


class OpenTicketRequest(Body):
    equipment_id: str = Field(min_length=1, max_length=36)
    title: str = Field(min_length=1, max_length=200, examples=["Spindle bearing runs hot"])
    description: str = Field(
        "", max_length=10_000, examples=["Above 90 Cel at 12,000 rpm since the last shift"]
    )
    priority: str = Field("medium", pattern="^(low|medium|high|critical)$")


class BookingResponse(BaseModel):
    planned_downtime_id: str = Field(description="The planned downtime in the plant's schedule")
    plant_id: str
    station_id: str
    start_time: datetime
    end_time: datetime


class NoteResponse(BaseModel):
    id: str
    author: str
    text: str
    create_time: datetime


class TicketResponse(BaseModel):
    id: str
    equipment_id: str
    title: str
    description: str
    priority: str
    state: str
    create_time: datetime
    update_time: datetime
    source_episode_id: str = Field(
        description="The anomaly episode that opened the ticket; empty if a person did"
    )
    assignee: str = Field("", description="Who is to do the work; empty while unassigned")
    booking: BookingResponse | None = Field(
        None, description="The maintenance window booked for the ticket; null while none is"
    )


class TicketDetailResponse(TicketResponse):
    notes: list[NoteResponse] = Field(description="Oldest first")


class UpdateTicketRequest(PatchBody):
    assignee: str | None = Field(
        None,
        max_length=120,
        description="A person's name or e-mail; empty unassigns",
        examples=["carla.rossi@example.com"],
    )
    priority: TicketPriorityName | None = Field(None, examples=["high"])


class TransitionTicketRequest(Body):
    to: Literal["open", "in_progress", "resolved", "dismissed"] = Field(
        description=(
            "The state to move to. open -> in_progress | dismissed, scheduled -> open "
            "(removes the booking) | in_progress, in_progress -> resolved | dismissed; "
            "scheduled is reached by booking a window (:book). Any other move is 409."
        ),
        examples=["in_progress"],
    )
    reset_anomaly_model: bool = Field(
        False,
        description="When resolving: the machine's anomaly model learns its behaviour afresh",
    )


class NoteRequest(Body):
    text: str = Field(min_length=1, max_length=5_000, examples=["Bearing replaced, runs cool"])


class ChangeResponse(BaseModel):
    actor: str = Field(description="Who made it; 'platform' for changes an anomaly made")
    change_time: datetime
    field: str = Field(description="opened, state, priority, assignee or note")
    from_value: str
    to_value: str
    detail: str


# A suggested window's times, as Swagger UI's "Try it out" can send them.
_EXAMPLE_WINDOW = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)


class BookWindowRequest(Body):
    start_time: Instant = Field(
        description="On a whole minute, in the future", examples=[_EXAMPLE_WINDOW.isoformat()]
    )
    end_time: Instant = Field(
        description="On a whole minute, after start_time, at most 31 days later",
        examples=[(_EXAMPLE_WINDOW + timedelta(hours=2)).isoformat()],
    )


class DelayedWorkOrderResponse(BaseModel):
    work_order_id: str
    delay_s: float = Field(description="How much later its planned end would move, at most")
    added_lateness_s: float = Field(description="Lateness past its due time the move would add")


class WindowResponse(BaseModel):
    start_time: datetime
    end_time: datetime
    displaced_operation_s: float = Field(
        description="Planned operation time at the station inside the window; 0: costs nothing"
    )
    idle_s: float = Field(description="Time the plan leaves the station idle")
    planned_stop_s: float = Field(description="Time inside planned downtime already booked")
    non_working_s: float = Field(description="Time outside the plant's shifts")
    delayed_work_orders: list[DelayedWorkOrderResponse]
    added_lateness_s: float
    explanation: str


class SuggestedWindowsResponse(BaseModel):
    station_id: str
    not_after: datetime = Field(
        description=(
            "Every window ends by then: the failure the priority predicts (critical 24 h, "
            "high 3 days, medium 7 days, low 14 days from now)"
        )
    )
    windows: list[WindowResponse] = Field(description="The cheapest for production first")


class SendCommandRequest(Body):
    name: str = Field(min_length=1, max_length=64, examples=["set_spindle_speed"])
    parameters: dict[str, Any] = Field(default_factory=dict, examples=[{"rpm": 8000}])
    timeout_s: int = Field(300, ge=1, le=86_400, description="Expires unanswered after this")

    @field_validator("parameters")
    @classmethod
    def _not_nested_too_deep(cls, parameters: dict[str, Any]) -> dict[str, Any]:
        # Checked here, before the call to servitization: deeper documents do not
        # survive protobuf's parser on the way.
        if nesting_depth(parameters) > MAX_NESTING:
            raise ValueError(f"at most {MAX_NESTING} levels of nested objects and lists")
        return parameters


class CommandResponse(BaseModel):
    id: str
    equipment_id: str
    name: str
    parameters: dict[str, Any]
    state: str = Field(
        examples=["pending"],
        description=(
            "pending (not yet confirmed by the machine), delivered (the machine's receipt "
            "came), succeeded, failed, rejected, expired or cancelled"
        ),
    )
    detail: str = Field(description="The machine's (or the platform's) explanation")
    requested_by: str
    cancelled_by: str = Field(description="Who cancelled the command; empty unless cancelled")
    attempts: int = Field(
        description="How often it was sent towards the machine (resent while unconfirmed)"
    )
    late: bool = Field(
        description=(
            "The machine answered after the command had expired or been cancelled: the "
            "state is its answer and update_time when it came"
        )
    )
    job_id: str = Field(description="The fleet job it belongs to; empty if sent on its own")
    create_time: datetime
    update_time: datetime = Field(description="When the state last changed")
    expire_time: datetime
