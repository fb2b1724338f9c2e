"""Bodies of the plant, line and station routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from imcloud_gateway.api.http.schemas.common import Body, Name, PatchBody

Description = Annotated[str, Field(max_length=2000)]
ParentId = Annotated[str, Field(min_length=1, max_length=36)]
TimeZone = Annotated[
    str,
    Field(max_length=64, examples=["Europe/Berlin"], description="IANA time zone; empty: UTC"),
]


# -- plants --------------------------------------------------------------------


PlantName = Annotated[Name, Field(examples=["Augsburg"])]
LineName = Annotated[Name, Field(examples=["Final assembly"])]
StationName = Annotated[Name, Field(examples=["Station 20: spindle mounting"])]
Location = Annotated[Description, Field(examples=["Werkstrasse 1, 86150 Augsburg"])]


class CreatePlantRequest(Body):
    name: PlantName
    location: Location = ""
    time_zone: TimeZone = "UTC"


class UpdatePlantRequest(PatchBody):
    """The plant fields to change; fields left out keep their values."""

    name: PlantName | None = None
    location: Location | None = None
    time_zone: TimeZone | None = None


class PlantResponse(BaseModel):
    id: str
    name: str
    location: str
    time_zone: str
    create_time: datetime
    update_time: datetime


# -- lines ---------------------------------------------------------------------


class CreateLineRequest(Body):
    plant_id: ParentId = Field(description="The plant the line belongs to; fixed once created")
    name: LineName
    description: Description = ""


class UpdateLineRequest(PatchBody):
    """The line fields to change; fields left out keep their values."""

    name: LineName | None = None
    description: Description | None = None


class LineResponse(BaseModel):
    id: str
    plant_id: str
    name: str
    description: str
    create_time: datetime
    update_time: datetime


# -- stations ------------------------------------------------------------------


class CreateStationRequest(Body):
    line_id: ParentId = Field(description="The line the station belongs to; fixed once created")
    name: StationName
    description: Description = ""


class UpdateStationRequest(PatchBody):
    """The station fields to change; fields left out keep their values."""

    name: StationName | None = None
    description: Description | None = None


class StationResponse(BaseModel):
    id: str
    line_id: str
    plant_id: str = Field(description="The plant of the station's line")
    name: str
    description: str
    create_time: datetime
    update_time: datetime
