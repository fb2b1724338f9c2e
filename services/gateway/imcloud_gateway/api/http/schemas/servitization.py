"""Bodies of the maintenance routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from imcloud_gateway.api.http.schemas.common import Body


class OpenTicketRequest(Body):
    equipment_id: str = Field(min_length=1, max_length=36)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
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
