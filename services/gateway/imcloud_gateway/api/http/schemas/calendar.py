"""Bodies of the shift calendar, shift and planned downtime routes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from imcloud_gateway.api.http.schemas.common import Body
from imcloud_gateway.api.http.schemas.production import Instant

_CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ClockTime = Annotated[str, Field(pattern=_CLOCK, description="Plant-local time, HH:MM")]


# Christmas next year: never today, so the example leaves the present planned.
_EXAMPLE_HOLIDAY = date(datetime.now(UTC).year + 1, 12, 25).isoformat()


def _written_date(value: object) -> object:
    # pydantic would read a number as days or seconds since 1970.
    if not (isinstance(value, str) and _DATE.fullmatch(value)):
        raise ValueError("a date written YYYY-MM-DD")
    return value


# A plant-local calendar date.
LocalDate = Annotated[date, BeforeValidator(_written_date)]


class ShiftBreakBody(Body):
    start_time: ClockTime = Field(examples=["09:00"])
    end_time: ClockTime = Field(examples=["09:30"])


class ShiftPatternBody(Body):
    name: str = Field(min_length=1, max_length=60, examples=["early"])
    days_of_week: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        min_length=1,
        max_length=7,
        description="ISO days the shift starts on: 1 Monday .. 7 Sunday",
        examples=[[1, 2, 3, 4, 5]],
    )
    start_time: ClockTime = Field(examples=["06:00"])
    end_time: ClockTime = Field(
        examples=["14:00"], description="Plant-local HH:MM; before start_time: the next day"
    )
    breaks: list[ShiftBreakBody] = Field([], max_length=5)


class ShiftCalendarRequest(Body):
    """A plant's whole calendar; it replaces the one before."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "shifts": [
                        {
                            "name": "day",
                            "days_of_week": [1, 2, 3, 4, 5, 6, 7],
                            "start_time": "06:00",
                            "end_time": "18:00",
                        },
                        {
                            "name": "night",
                            "days_of_week": [1, 2, 3, 4, 5, 6, 7],
                            "start_time": "18:00",
                            "end_time": "06:00",
                        },
                    ],
                    "holidays": [_EXAMPLE_HOLIDAY],
                    "small_stop_threshold_s": 120,
                    "startup_window_s": 600,
                }
            ]
        }
    )

    shifts: list[ShiftPatternBody] = Field(
        [], max_length=50, description="Two shifts starting the same day may not overlap"
    )
    holidays: list[LocalDate] = Field(
        [], max_length=400, description="Plant-local days without any shift, YYYY-MM-DD"
    )
    small_stop_threshold_s: int = Field(
        120,
        ge=1,
        le=3600,
        description="A shorter stop is a small stop (performance), a longer one downtime",
    )
    startup_window_s: int = Field(
        0,
        ge=0,
        le=86_400,
        description="Scrap this soon after setup or downtime is a start-up reject; 0: none",
    )
    effective_time: Instant | None = Field(
        None,
        description=(
            "From when the calendar applies, on a whole minute; null: now. At most 31 days "
            "back: the time counted since then is counted again with this calendar"
        ),
    )


class ShiftCalendarResponse(BaseModel):
    plant_id: str
    shifts: list[ShiftPatternBody]
    holidays: list[str]
    small_stop_threshold_s: int
    startup_window_s: int
    update_time: datetime | None = Field(description="Null while the plant has no calendar")
    effective_time: datetime | None = Field(
        description="From when it applies; null while the plant has no calendar"
    )


class TimeRangeBody(BaseModel):
    start_time: datetime
    end_time: datetime


class ShiftResponse(BaseModel):
    plant_id: str
    name: str
    date: str = Field(description="The plant-local day the shift starts on")
    start_time: datetime
    end_time: datetime
    breaks: list[TimeRangeBody]
    planned_busy_time_s: float = Field(description="ISO 22400-2 PBT: shift time minus breaks")


class ShiftListResponse(BaseModel):
    items: list[ShiftResponse] = Field(description="Earliest first")


PlannedDowntimeKindName = Literal["maintenance", "planned_stop"]
MAX_PLANNED_DOWNTIME = timedelta(days=31)
# A week of maintenance a year ahead, on whole minutes as planned downtime must be.
_EXAMPLE_START = (datetime.now(UTC) + timedelta(days=365)).replace(second=0, microsecond=0)


class CreatePlannedDowntimeRequest(Body):
    plant_id: str = Field(min_length=1, max_length=36)
    station_id: str = Field(
        "", max_length=36, description="One station of the plant; empty: every station"
    )
    kind: PlannedDowntimeKindName
    start_time: Instant = Field(
        description="On a whole minute, in the future", examples=[_EXAMPLE_START.isoformat()]
    )
    end_time: Instant = Field(
        description="On a whole minute, after start_time, at most 31 days later",
        examples=[(_EXAMPLE_START + timedelta(hours=4)).isoformat()],
    )
    reason: str = Field("", max_length=500, examples=["Spindle bearing replacement"])

    @field_validator("start_time", "end_time")
    @classmethod
    def _on_a_whole_minute(cls, instant: datetime) -> datetime:
        if instant.second or instant.microsecond:
            raise ValueError("must be on a whole minute")
        return instant

    @field_validator("end_time")
    @classmethod
    def _after_the_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start_time")
        if start is not None and not start < end <= start + MAX_PLANNED_DOWNTIME:
            raise ValueError("must be after start_time, at most 31 days later")
        return end


class PlannedDowntimeResponse(BaseModel):
    id: str
    plant_id: str
    station_id: str
    kind: PlannedDowntimeKindName
    start_time: datetime
    end_time: datetime
    reason: str
    create_time: datetime
