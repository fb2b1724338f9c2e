"""Bodies of the plant, line and station routes, and what every production body shares."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

from imcloud_gateway.api.http.schemas.common import Body, Name, PatchBody

_NUMBER = re.compile(r"[-+]?\d+(\.\d*)?([eE][-+]?\d+)?")


def _written_instant(value: object) -> object:
    # pydantic would read 0 or "0.5" as seconds since 1970; an instant is written
    # as RFC 3339, as the document says.
    if isinstance(value, int | float) or (
        isinstance(value, str) and _NUMBER.fullmatch(value.strip())
    ):
        raise ValueError("a date-time such as 2026-12-01T08:00:00Z, not a number")
    return value


# An instant in a body: RFC 3339 with its offset.
Instant = Annotated[AwareDatetime, BeforeValidator(_written_instant)]

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

Capability = Annotated[str, Field(min_length=1, max_length=50)]
Capabilities = Annotated[
    list[Capability],
    Field(
        max_length=50,
        examples=[["milling", "drilling"]],
        description="What the station can do; a routing step needs one of them",
    ),
]
CycleTime = Annotated[
    float,
    Field(
        ge=0,
        le=86_400,
        description="Ideal seconds per unit when no product says otherwise; 0: unknown",
        examples=[42.0],
    ),
]
PartNumber = Annotated[str, Field(min_length=1, max_length=100)]
CycleTimes = Annotated[
    dict[PartNumber, Annotated[float, Field(gt=0, le=86_400)]],
    Field(
        max_length=1000,
        description="Ideal seconds per unit by part number, ahead of the routing's",
        examples=[{"HSG-100": 38.5}],
    ),
]


class CreateStationRequest(Body):
    line_id: ParentId = Field(description="The line the station belongs to; fixed once created")
    name: StationName
    description: Description = ""
    capabilities: Capabilities = []
    ideal_cycle_time_s: CycleTime = 0.0
    ideal_cycle_times: CycleTimes = {}


class UpdateStationRequest(PatchBody):
    """The station fields to change; fields left out keep their values."""

    name: StationName | None = None
    description: Description | None = None
    capabilities: Capabilities | None = None
    ideal_cycle_time_s: CycleTime | None = None
    ideal_cycle_times: CycleTimes | None = None


class StationResponse(BaseModel):
    id: str
    line_id: str
    plant_id: str = Field(description="The plant of the station's line")
    name: str
    description: str
    capabilities: list[str]
    ideal_cycle_time_s: float
    ideal_cycle_times: dict[str, float]
    create_time: datetime
    update_time: datetime
