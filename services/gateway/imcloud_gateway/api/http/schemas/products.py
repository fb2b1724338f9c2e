"""Bodies of the equipment model and equipment routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictFloat

from imcloud_gateway.api.http.schemas.common import Body, Name, PatchBody


class SignalDefinitionBody(Body):
    # The products service's rule, in the document so that clients can check it.
    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$",
        examples=["spindle_temperature"],
    )
    unit: str = Field("", max_length=32, examples=["Cel"])
    type: str = Field("double", pattern="^(double|integer|boolean)$")
    # Strict: a boolean is not a bound (lax parsing would read false as 0).
    min_value: StrictFloat | None = Field(None, examples=[-20.0])
    max_value: StrictFloat | None = Field(None, examples=[150.0])
    description: str = Field("", max_length=2000, examples=["Spindle bearing temperature"])


ModelName = Annotated[Name, Field(examples=["VM-5 vertical mill"])]
Manufacturer = Annotated[str, Field(max_length=200, examples=["Maker GmbH"])]
SerialNumber = Annotated[str, Field(min_length=1, max_length=100, examples=["VM5-2024-00042"])]
EquipmentName = Annotated[str, Field(max_length=200, examples=["Mill 3"])]


class CreateEquipmentModelRequest(Body):
    name: ModelName
    manufacturer: Manufacturer = ""
    signals: list[SignalDefinitionBody] = Field(min_length=1, max_length=256)


class EquipmentModelResponse(BaseModel):
    id: str
    name: str
    manufacturer: str
    signals: list[SignalDefinitionBody]
    create_time: datetime
    update_time: datetime


class UpdateEquipmentModelRequest(PatchBody):
    name: ModelName | None = None
    manufacturer: Manufacturer | None = None
    signals: list[SignalDefinitionBody] | None = Field(None, min_length=1, max_length=256)


class CreateEquipmentRequest(Body):
    equipment_model_id: str = Field(min_length=1, max_length=36)
    serial_number: SerialNumber
    name: EquipmentName = ""
    station_id: str = Field("", max_length=36, description="Where the machine stands; optional")


class UpdateEquipmentRequest(PatchBody):
    serial_number: SerialNumber | None = None
    name: EquipmentName | None = None
    station_id: str | None = Field(None, max_length=36, description="Empty string: not placed")


class EquipmentResponse(BaseModel):
    id: str
    equipment_model_id: str
    serial_number: str
    name: str
    station_id: str
    create_time: datetime
    update_time: datetime
