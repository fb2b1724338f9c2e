"""Bodies of the maintenance routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from imcloud_core.nesting import MAX_NESTING, nesting_depth
from imcloud_gateway.api.http.schemas.common import Body


class OpenTicketRequest(Body):
    equipment_id: str = Field(min_length=1, max_length=36)
    title: str = Field(min_length=1, max_length=200, examples=["Spindle bearing runs hot"])
    description: str = Field(
        "", max_length=10_000, examples=["Above 90 Cel at 12,000 rpm since the last shift"]
    )
    priority: str = Field("medium", pattern="^(low|medium|high|critical)$")


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
        description="pending, delivered, succeeded, failed, rejected or expired",
    )
    detail: str = Field(description="The machine's (or the platform's) explanation")
    requested_by: str
    create_time: datetime
    update_time: datetime
    expire_time: datetime
