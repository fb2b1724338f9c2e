"""Bodies of the plant, line and station routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from imcloud_gateway.api.http.schemas.common import Body, Name


class CreatePlantRequest(Body):
    name: Name
    location: str = Field("", max_length=2000)
    time_zone: str = Field("UTC", max_length=64, examples=["Europe/Berlin"])


class PlantResponse(BaseModel):
    id: str
    name: str
    location: str
    time_zone: str
    create_time: datetime
    update_time: datetime
