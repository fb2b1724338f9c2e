"""Bodies of the equipment model and equipment routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from imcloud_gateway.api.http.schemas.common import Body, Name


class SignalDefinitionBody(Body):
    name: str = Field(min_length=1, max_length=64, examples=["spindle_temperature"])
    unit: str = Field("", max_length=32, examples=["Cel"])
    type: str = Field("double", pattern="^(double|integer|boolean)$")
    min_value: float | None = None
    max_value: float | None = None
    description: str = Field("", max_length=2000)


class CreateEquipmentModelRequest(Body):
    name: Name
    manufacturer: str = Field("", max_length=200)
    signals: list[SignalDefinitionBody] = Field(min_length=1, max_length=256)


class EquipmentModelResponse(BaseModel):
    id: str
    name: str
    manufacturer: str
    signals: list[SignalDefinitionBody]
    create_time: datetime
    update_time: datetime
