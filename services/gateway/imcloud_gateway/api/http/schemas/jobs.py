"""Bodies of the fleet job routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

from imcloud_core.nesting import MAX_NESTING, nesting_depth
from imcloud_gateway.api.http.schemas.common import Body
from imcloud_gateway.api.http.schemas.servitization import SendCommandRequest

MAX_MACHINES = 10_000
DEFAULT_MACHINES_PER_MINUTE = 60
EquipmentId = Annotated[str, Field(min_length=1, max_length=36)]


def _exactly_one(body: BaseModel, names: tuple[str, ...]) -> None:
    chosen = [name for name in names if getattr(body, name) is not None]
    if len(chosen) != 1:
        raise ValueError(f"set exactly one of {', '.join(names)}")


class JobTargetRequest(Body):
    """Which machines: exactly one of the fields."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"line_id": "3f1e8a52-6c1d-4d5e-9b0a-2c7d8e9f0a1b"}]},
    )

    equipment_ids: list[EquipmentId] | None = Field(
        None, min_length=1, max_length=MAX_MACHINES, description="These machines"
    )
    equipment_model_id: str | None = Field(
        None, min_length=1, max_length=36, description="Every machine of this equipment model"
    )
    line_id: str | None = Field(
        None, min_length=1, max_length=36, description="Every machine at a station of this line"
    )
    plant_id: str | None = Field(
        None, min_length=1, max_length=36, description="Every machine at a station of this plant"
    )

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        _exactly_one(self, ("equipment_ids", "equipment_model_id", "line_id", "plant_id"))
        return self


class GrantedJobTargetRequest(Body):
    """Which granted machines: exactly one of the fields."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"granted_machines": True}]}
    )

    equipment_ids: list[EquipmentId] | None = Field(
        None,
        min_length=1,
        max_length=MAX_MACHINES,
        description="These machines, each granted to you with commands:send",
    )
    granted_machines: Literal[True] | None = Field(
        None, description="Every machine granted to you with commands:send, of every customer"
    )

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        _exactly_one(self, ("equipment_ids", "granted_machines"))
        return self


class RolloutRequest(Body):
    machines_per_minute: int = Field(
        DEFAULT_MACHINES_PER_MINUTE,
        ge=1,
        le=10_000,
        description="At most this many machines are started in any minute",
    )


class AbortCriteriaRequest(Body):
    failed_percent: int = Field(
        ge=1,
        le=100,
        examples=[20],
        description="Abort when this share of the ended executions failed, were rejected "
        "or expired ...",
    )
    min_ended: int = Field(
        0,
        ge=0,
        le=MAX_MACHINES,
        examples=[10],
        description="... once at least this many ended (cancelled ones count neither way)",
    )


class DesiredChangeRequest(Body):
    desired: dict[str, Any] = Field(
        min_length=1,
        examples=[{"feed_override": 90, "mode": None}],
        description="A JSON merge patch of each machine's desired properties: a value sets "
        "the property, null removes it, an object merges into the property's object",
    )
    timeout_s: int = Field(
        300,
        ge=1,
        le=86_400,
        description="The timeout per machine: its execution expires unless the machine "
        "reports the new version applied within this",
    )

    @field_validator("desired")
    @classmethod
    def _not_nested_too_deep(cls, desired: dict[str, Any]) -> dict[str, Any]:
        if nesting_depth(desired) > MAX_NESTING:
            raise ValueError(f"at most {MAX_NESTING} levels of nested objects and lists")
        return desired


COMMAND_EXAMPLE: JsonDict = {
    "name": "set_spindle_speed",
    "parameters": {"rpm": 8000},
    "timeout_s": 300,
}
ABORT_EXAMPLE: JsonDict = {"failed_percent": 20, "min_ended": 10}


class _JobRequest(Body):
    command: SendCommandRequest | None = Field(
        None,
        description="The command every machine is sent; timeout_s is the timeout per machine",
    )
    desired_change: DesiredChangeRequest | None = Field(
        None, description="Instead of a command: the desired-state change every machine gets"
    )
    rollout: RolloutRequest = Field(
        default_factory=lambda: RolloutRequest(machines_per_minute=DEFAULT_MACHINES_PER_MINUTE)
    )
    abort_criteria: AbortCriteriaRequest

    @model_validator(mode="after")
    def _one_action(self) -> Self:
        _exactly_one(self, ("command", "desired_change"))
        return self


class CreateJobRequest(_JobRequest):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "target": {"line_id": "3f1e8a52-6c1d-4d5e-9b0a-2c7d8e9f0a1b"},
                    "command": COMMAND_EXAMPLE,
                    "rollout": {"machines_per_minute": 120},
                    "abort_criteria": ABORT_EXAMPLE,
                }
            ]
        },
    )

    target: JobTargetRequest


class CreateGrantedJobRequest(_JobRequest):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "target": {"granted_machines": True},
                    "command": COMMAND_EXAMPLE,
                    "abort_criteria": ABORT_EXAMPLE,
                }
            ]
        },
    )

    target: GrantedJobTargetRequest


class JobTargetResponse(BaseModel):
    kind: str = Field(
        description="equipment (the executions name the machines), equipment_model, line, "
        "plant or granted_machines"
    )
    id: str = Field(description="The model, line or plant; empty for the other kinds")


class JobCommandResponse(BaseModel):
    name: str
    parameters: dict[str, Any]
    timeout_s: int = Field(description="The timeout per machine")


class JobSummaryResponse(BaseModel):
    """Machines per execution state; they add up to machine_count."""

    queued: int
    pending: int
    delivered: int
    succeeded: int
    failed: int
    rejected: int
    expired: int
    cancelled: int


class DesiredChangeResponse(BaseModel):
    desired: dict[str, Any]
    timeout_s: int = Field(description="The timeout per machine")


class JobResponse(BaseModel):
    id: str
    target: JobTargetResponse
    command: JobCommandResponse | None = Field(description="null for a desired-state job")
    desired_change: DesiredChangeResponse | None = Field(description="null for a command job")
    rollout: RolloutRequest
    abort_criteria: AbortCriteriaRequest
    state: str = Field(description="in_progress, completed, aborted or cancelled")
    machine_count: int
    summary: JobSummaryResponse
    detail: str = Field(description="Why the job aborted or was cancelled")
    requested_by: str
    create_time: datetime
    update_time: datetime
    end_time: datetime | None = Field(description="When it ended; null while in progress")


class JobExecutionResponse(BaseModel):
    job_id: str
    equipment_id: str
    state: str = Field(
        description="queued (not sent anything yet), then its command's state: pending, "
        "delivered, succeeded, failed, rejected, expired or cancelled (also: never started "
        "because the job ended first)"
    )
    command_id: str = Field(
        description="The command sent to the machine; empty while queued and in a desired-state job"
    )
    desired_version: int = Field(
        description="A desired-state job's: the machine's desired version it has to report "
        "applied; 0 otherwise"
    )
    detail: str
    start_time: datetime | None = Field(description="When its command was sent")
    update_time: datetime
