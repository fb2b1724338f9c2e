"""Bodies of the alarm rule and alarm routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from imcloud_gateway.api.http.schemas.common import Body, Name

Severity = Literal["info", "warning", "major", "critical"]
AlarmStateName = Literal["active", "acknowledged", "cleared"]
EpisodeSeverity = Literal["low", "medium", "high"]
KpiName = Literal["oee", "availability", "performance", "quality", "scrap_rate"]


class AlarmScopeBody(Body):
    """Which machines the rule watches: exactly one of the fields."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"equipment_model_id": "3f1e8a52-6c1d-4d5e-9b0a-2c7d8e9f0a1b"}]
        },
    )

    equipment_id: str | None = Field(None, min_length=1, max_length=36, description="This machine")
    equipment_model_id: str | None = Field(
        None, min_length=1, max_length=36, description="Every machine of this equipment model"
    )
    station_id: str | None = Field(
        None, min_length=1, max_length=36, description="Every machine placed at this station"
    )
    line_id: str | None = Field(
        None, min_length=1, max_length=36, description="Every machine at a station of this line"
    )
    plant_id: str | None = Field(
        None, min_length=1, max_length=36, description="Every machine at a station of this plant"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if len([v for v in self.model_dump().values() if v is not None]) != 1:
            raise ValueError(
                "set exactly one of equipment_id, equipment_model_id, station_id, line_id, plant_id"
            )
        return self

    def named(self) -> tuple[str, str]:
        """The field set and its id."""
        ((field, value),) = [(k, v) for k, v in self.model_dump().items() if v is not None]
        return field, value


class ThresholdBody(Body):
    signal: str = Field(min_length=1, max_length=100)
    above: bool = Field(True, description="Alarm above the threshold (false: below it)")
    threshold: float = Field(allow_inf_nan=False)
    duration_s: float = Field(
        0, ge=0, le=86_400, description="How long (by the points' own times) before it raises"
    )
    hysteresis: float = Field(
        0,
        ge=0,
        allow_inf_nan=False,
        description="It clears once the signal is back past threshold -/+ this",
    )


class RateOfChangeBody(Body):
    signal: str = Field(min_length=1, max_length=100)
    max_rate_per_s: float = Field(
        gt=0, allow_inf_nan=False, description="In the signal's unit per second"
    )


class EpisodeBody(Body):
    min_severity: EpisodeSeverity = "high"


class CommandBody(Body):
    """Any remote command to the machine that failed, was rejected or expired; a
    later command that succeeds clears it."""


class NoDataBody(Body):
    """Nothing arrived from a machine for a while (by the platform's clock); it
    clears when data comes again. A rule naming one machine watches it from its
    creation, a wider one each machine from the first data it sends after it."""

    signal: str = Field("", max_length=100, description="Only this signal counts; empty: any")
    duration_s: float = Field(gt=0, le=30 * 86_400, description="How long a silence raises it")


class KpiBody(Body):
    """A shift of the scope's plant that ended with the figure below target (above
    it for scrap_rate); the next shift that meets it clears the alarm. The scope
    is a station, a line or a plant, and the alarms name no machine."""

    kpi: KpiName
    target: float = Field(ge=0, le=1, description="0..1, like the OEE figures")


class AlarmConditionBody(Body):
    """Exactly one of the fields."""

    threshold: ThresholdBody | None = None
    rate_of_change: RateOfChangeBody | None = None
    no_data: NoDataBody | None = None
    episode: EpisodeBody | None = None
    command: CommandBody | None = None
    kpi: KpiBody | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if len([v for v in self.model_dump().values() if v is not None]) != 1:
            raise ValueError(
                "set exactly one of threshold, rate_of_change, no_data, episode, command, kpi"
            )
        return self


class CreateAlarmRuleRequest(Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Spindle too hot",
                    "severity": "major",
                    "scope": {"equipment_id": "3f1e8a52-6c1d-4d5e-9b0a-2c7d8e9f0a1b"},
                    "condition": {
                        "threshold": {
                            "signal": "spindle_temperature",
                            "above": True,
                            "threshold": 90,
                            "duration_s": 10,
                            "hysteresis": 2,
                        }
                    },
                }
            ]
        },
    )

    name: Name
    severity: Severity = "warning"
    scope: AlarmScopeBody
    condition: AlarmConditionBody


class AlarmRuleResponse(CreateAlarmRuleRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra=None)

    id: str
    create_time: datetime


class AlarmResponse(Body):
    id: str
    rule_id: str
    rule_name: str
    severity: Severity
    state: AlarmStateName
    equipment_id: str = Field(description="Empty for a KPI alarm: its rule's scope is the subject")
    detail: str = Field(
        description='What happened, e.g. "spindle_temperature 91.5 above 90 for 10 s"'
    )
    value: float = Field(
        description="The value that raised it (the signal's, or the rate); 0 where none"
    )
    raise_time: datetime = Field(
        description="When the condition began to hold, by the data's own time"
    )
    acknowledge_time: datetime | None
    acknowledged_by: str
    clear_time: datetime | None
    cleared_by: str = Field(description="Who cleared it; empty when its condition ended by itself")
