"""Bodies of the telemetry routes: the HTTP device link, the twin and queries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from imcloud_gateway.api.http.schemas.common import EXAMPLE_NOW_MS, Body
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


class TwinResponse(BaseModel):
    equipment_id: str
    reported: list[ReportedSignalBody]
    last_seen_time: datetime | None
    connected: bool
    health_score: float | None = Field(
        description="100 in normal running, 50 at the alarm threshold; null while learning"
    )
    open_episodes: list[EpisodeResponse]


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
