"""Bodies of the telemetry routes: the HTTP device link, the twin and queries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from imcloud_core.nesting import MAX_NESTING, nesting_depth
from imcloud_gateway.api.http.schemas.common import EXAMPLE_NOW_MS, Body, _partial_update
from imcloud_gateway.domain.telemetry import MAX_STORED_INTEGER

StoredInteger = Annotated[int, Field(ge=-MAX_STORED_INTEGER - 1, le=MAX_STORED_INTEGER)]


class SeriesBody(Body):
    signal: str = Field(max_length=64, examples=["spindle_temperature"])
    timestamps_ms: list[StoredInteger] = Field(
        description="Unix milliseconds, one per value",
        examples=[[EXAMPLE_NOW_MS - 2000, EXAMPLE_NOW_MS - 1000]],
    )
    values: list[float] = Field(description="Booleans as 0 or 1", examples=[[41.5, 41.7]])


class TelemetryBatchRequest(Body):
    sequence_id: int = Field(
        ge=0,
        le=MAX_STORED_INTEGER,
        description="Chosen by the device, unique per machine; a resent batch is stored once",
        examples=[1],
    )
    series: list[SeriesBody] = Field(max_length=1000)


class RefusalBody(BaseModel):
    signal: str
    reason: str = Field(examples=["unknown_signal"])
    points: int
    detail: str


class BatchAckResponse(BaseModel):
    sequence_id: int
    accepted_points: int
    flagged_points: int = Field(description="Accepted, but outside the signal's valid range")
    refusals: list[RefusalBody]


class ReportedSignalBody(BaseModel):
    signal: str
    value: float
    time: datetime
    out_of_range: bool


class EpisodeResponse(BaseModel):
    id: str
    equipment_id: str
    kind: str = Field(examples=["anomaly", "data_quality"])
    start_time: datetime
    end_time: datetime = Field(description="The last flagged row so far")
    peak_score: float = Field(description="In units of the alarm threshold (1 = alarming)")
    peak_time: datetime
    rows: int
    severity: str = Field(examples=["low", "medium", "high"])
    top_signals: list[str] = Field(description="The signals that contributed most")
    quality_issues: list[str] = Field(description="missing, stuck, ... (data quality)")
    closed: bool


class DesiredStateBody(BaseModel):
    properties: dict[str, Any] = Field(examples=[{"feed_override": 90, "mode": "eco"}])
    version: int = Field(description="Rises by one with every change; 0 while nothing was desired")
    update_actor: str = Field(description="Who made the latest change; empty at version 0")
    update_time: datetime | None


class PropertyDeltaBody(BaseModel):
    property: str
    desired: Any
    reported: float | None = Field(
        description="The latest value of the signal of the same name, if the machine reports one"
    )


class TwinResponse(BaseModel):
    equipment_id: str
    reported: list[ReportedSignalBody]
    last_seen_time: datetime | None
    connected: bool
    health_score: float | None = Field(
        description="100 in normal running, 50 at the alarm threshold; null while learning"
    )
    open_episodes: list[EpisodeResponse]
    desired: DesiredStateBody
    applied_version: int = Field(
        description="The desired version the machine last reported applied; 0 if none"
    )
    applied_detail: str = Field(description="What the machine could not apply (empty: all)")
    applied_time: datetime | None
    delta: list[PropertyDeltaBody] = Field(
        description="Desired properties the machine does not run yet: one named like a signal "
        "until the signal reports the desired value, any other until the machine applied "
        "the version that set it"
    )


class TwinsResponse(BaseModel):
    items: list[TwinResponse] = Field(description="One twin per machine asked, in that order")


def _desired_patch_schema(schema: dict[str, Any]) -> None:
    # A patch like the others: version is left out rather than null.
    _partial_update(schema)
    schema["examples"] = [{"desired": {"feed_override": 90, "mode": "eco"}}]


class UpdateDesiredStateRequest(Body):
    model_config = ConfigDict(json_schema_extra=_desired_patch_schema)

    desired: dict[str, Any] = Field(
        description="A JSON merge patch of the desired properties (RFC 7386): a value sets a "
        "property, null removes it, an object merges into the property's object",
        examples=[{"feed_override": 90, "mode": "eco"}],
    )
    version: int | None = Field(
        None,
        ge=0,
        # The contract's int64: a larger number would fail in the call, not here.
        le=2**63 - 1,
        description="The desired version you last read (the twin's desired.version): refused "
        "with 409 if the desired state moved on since. Leave out to write regardless.",
        examples=[0],
    )

    @field_validator("desired")
    @classmethod
    def _not_nested_too_deep(cls, desired: dict[str, Any]) -> dict[str, Any]:
        if nesting_depth(desired) > MAX_NESTING:
            raise ValueError(f"at most {MAX_NESTING} levels of nested objects and lists")
        return desired

    @field_validator("version", mode="before")
    @classmethod
    def _left_out_rather_than_null(cls, version: Any) -> Any:
        if version is None:
            raise ValueError("leave version out instead of sending null")
        return version


class SeriesResponse(BaseModel):
    signal: str
    timestamps_ms: list[int]
    values: list[float]
    flags: list[int] = Field(
        description="Per point: 1 = outside the valid range; on _anomaly_score, "
        "2 = anomaly, 4 = data-quality issue"
    )


class PointsResponse(BaseModel):
    series: list[SeriesResponse]
    next_page_token: str


class SignalAggregatesBody(BaseModel):
    signal: str
    bucket_start_ms: list[int]
    min: list[float]
    max: list[float]
    mean: list[float]
    count: list[int]


class AggregatesResponse(BaseModel):
    signals: list[SignalAggregatesBody]
