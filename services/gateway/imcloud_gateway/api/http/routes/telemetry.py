"""Telemetry: the HTTP device link, and the twin and time series of a machine,
for its owner and for equipment makers holding a grant."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from google.protobuf.message import Message

from imcloud.products.v1 import equipment_events_pb2 as events_pb2
from imcloud.products.v1 import products_service_pb2 as pb
from imcloud_core.convert import from_timestamp
from imcloud_core.errors import FieldViolation, InvalidArgument
from imcloud_core.rpc import CallContext, ResponseT
from imcloud_gateway.api.http.deps import (
    DeviceDep,
    GatewayDep,
    GrantedDep,
    OperatorCall,
    PageToken,
    QueryTime,
    ViewerCall,
)
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.schemas.telemetry import (
    AggregatesResponse,
    BatchAckResponse,
    DesiredStateBody,
    EpisodeResponse,
    PointsResponse,
    PropertyDeltaBody,
    RefusalBody,
    ReportedSignalBody,
    SeriesResponse,
    SignalAggregatesBody,
    TelemetryBatchRequest,
    TwinResponse,
    TwinsResponse,
    UpdateDesiredStateRequest,
)
from imcloud_gateway.domain.model import Scope

router = APIRouter(tags=["telemetry"])

Start = Annotated[QueryTime, Query(description="From this time on (inclusive)")]
End = Annotated[QueryTime, Query(description="Up to this time (exclusive)")]
Signals = Annotated[list[str], Query(max_length=256, description="Only these signals")]
PointsPageSize = Annotated[int, Query(ge=1, le=10_000, description="At most this many points")]
BucketSeconds = Annotated[
    int, Query(ge=1, le=31 * 86_400, description="Bucket width in seconds, e.g. 60")
]


# -- the HTTP device link --------------------------------------------------------


@router.post(
    "/v1/device/telemetry",
    summary="(Devices) send a telemetry batch over HTTP",
    description=(
        "For simple devices; others keep a gRPC stream open (DeviceLinkService.Connect). "
        "Authenticate with the machine's device credential. Refused points are listed with "
        "their reason; the valid points of the batch are kept."
    ),
    responses=error_responses(401, 404, 422, 429, 503),
)
def send_telemetry(
    body: TelemetryBatchRequest, device: DeviceDep, gateway: GatewayDep
) -> BatchAckResponse:
    checked = gateway.intake.ingest(
        device, sequence_id=body.sequence_id, series=body.series, link="http"
    )
    return BatchAckResponse(
        sequence_id=checked.sequence_id,
        accepted_points=checked.accepted_points,
        flagged_points=checked.flagged_points,
        refusals=[
            RefusalBody(signal=r.signal, reason=r.reason.value, points=r.points, detail=r.detail)
            for r in checked.refusals
        ],
    )


# -- queries, shared by owners and grantees --------------------------------------


def _twin(gateway: GatewayDep, ctx: CallContext, equipment_id: str) -> TwinResponse:
    twin = gateway.call(
        gateway.backends.products.GetTwin, pb.GetTwinRequest(equipment_id=equipment_id), ctx
    ).twin
    return twin_body(twin)


def _update_desired(
    gateway: GatewayDep, ctx: CallContext, equipment_id: str, body: UpdateDesiredStateRequest
) -> TwinResponse:
    twin = gateway.call(
        gateway.backends.products.UpdateDesiredState,
        pb.UpdateDesiredStateRequest(
            equipment_id=equipment_id, desired_json=json.dumps(body.desired), version=body.version
        ),
        ctx,
    ).twin
    return twin_body(twin)


def twin_body(twin: pb.Twin) -> TwinResponse:
    desired = twin.desired
    return TwinResponse(
        equipment_id=twin.equipment_id,
        reported=[
            ReportedSignalBody(
                signal=r.signal,
                value=r.value,
                time=from_timestamp(r.time),
                out_of_range=r.out_of_range,
            )
            for r in twin.reported
        ],
        last_seen_time=_time_if_set(twin, "last_seen_time"),
        connected=twin.connected,
        health_score=twin.health_score if twin.HasField("health_score") else None,
        open_episodes=[episode_body(e) for e in twin.open_episodes],
        desired=DesiredStateBody(
            properties=json.loads(desired.properties_json or "{}"),
            version=desired.version,
            update_actor=desired.update_actor,
            update_time=_time_if_set(desired, "update_time"),
        ),
        applied_version=twin.applied_version,
        applied_detail=twin.applied_detail,
        applied_time=_time_if_set(twin, "applied_time"),
        delta=[
            PropertyDeltaBody(
                property=d.property,
                desired=json.loads(d.desired_json),
                reported=json.loads(d.reported_json) if d.reported_json else None,
            )
            for d in twin.delta
        ],
    )


def _time_if_set(message: Message, name: str) -> datetime | None:
    return from_timestamp(getattr(message, name)) if message.HasField(name) else None


EPISODE_KIND_NAMES = {
    events_pb2.EPISODE_KIND_ANOMALY: "anomaly",
    events_pb2.EPISODE_KIND_DATA_QUALITY: "data_quality",
}
EPISODE_KINDS = {name: number for number, name in EPISODE_KIND_NAMES.items()}
SEVERITY_NAMES = {
    events_pb2.EPISODE_SEVERITY_LOW: "low",
    events_pb2.EPISODE_SEVERITY_MEDIUM: "medium",
    events_pb2.EPISODE_SEVERITY_HIGH: "high",
}


def episode_body(episode: events_pb2.AnomalyEpisode) -> EpisodeResponse:
    return EpisodeResponse(
        id=episode.id,
        equipment_id=episode.equipment_id,
        kind=EPISODE_KIND_NAMES[episode.kind],
        start_time=from_timestamp(episode.start_time),
        end_time=from_timestamp(episode.end_time),
        peak_score=episode.peak_score,
        peak_time=from_timestamp(episode.peak_time),
        rows=episode.rows,
        severity=SEVERITY_NAMES[episode.severity],
        top_signals=list(episode.top_signals),
        quality_issues=list(episode.quality_issues),
        closed=episode.closed,
    )


@dataclass(frozen=True)
class PointsQuery:
    start: datetime
    end: datetime
    signals: list[str]
    page_size: int
    page_token: str


def _points_query(
    start: Start,
    end: End,
    signal: Signals = [],  # noqa: B006 - FastAPI copies query defaults
    page_size: PointsPageSize = 1000,
    page_token: PageToken = "",
) -> PointsQuery:
    return PointsQuery(start, end, signal, page_size, page_token)


@dataclass(frozen=True)
class AggregatesQuery:
    start: datetime
    end: datetime
    bucket_s: int
    signals: list[str]


def _aggregates_query(
    start: Start,
    end: End,
    bucket_s: BucketSeconds = 60,
    signal: Signals = [],  # noqa: B006 - FastAPI copies query defaults
) -> AggregatesQuery:
    return AggregatesQuery(start, end, bucket_s, signal)


PointsQueryDep = Annotated[PointsQuery, Depends(_points_query)]
AggregatesQueryDep = Annotated[AggregatesQuery, Depends(_aggregates_query)]


# The products service takes milliseconds; its refusals name the parameters the
# caller sent here instead.
QUERY_PARAMETERS = {"start_ms": "start", "end_ms": "end", "bucket_ms": "bucket_s"}


def _products_query(
    gateway: GatewayDep, method: Callable[..., ResponseT], request: Message, ctx: CallContext
) -> ResponseT:
    try:
        return gateway.call(method, request, ctx)
    except InvalidArgument as error:
        raise InvalidArgument(
            error.message,
            violations=tuple(
                FieldViolation(QUERY_PARAMETERS.get(v.field, v.field), v.reason)
                for v in error.violations
            ),
        ) from None


def _range_ms(start: datetime, end: datetime) -> tuple[int, int]:
    if end <= start:
        raise InvalidArgument(
            "the time range is empty",
            violations=(FieldViolation("end", "must be after start"),),
        )
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _points(
    gateway: GatewayDep, ctx: CallContext, equipment_id: str, query: PointsQuery
) -> PointsResponse:
    start_ms, end_ms = _range_ms(query.start, query.end)
    response = _products_query(
        gateway,
        gateway.backends.products.ListTelemetryPoints,
        pb.ListTelemetryPointsRequest(
            equipment_id=equipment_id,
            signals=query.signals,
            start_ms=start_ms,
            end_ms=end_ms,
            page_size=query.page_size,
            page_token=query.page_token,
        ),
        ctx,
    )
    return PointsResponse(
        series=[
            SeriesResponse(
                signal=s.signal,
                timestamps_ms=list(s.timestamps_ms),
                values=list(s.values),
                flags=list(s.flags),
            )
            for s in response.series
        ],
        next_page_token=response.next_page_token,
    )


def _aggregates(
    gateway: GatewayDep, ctx: CallContext, equipment_id: str, query: AggregatesQuery
) -> AggregatesResponse:
    start_ms, end_ms = _range_ms(query.start, query.end)
    response = _products_query(
        gateway,
        gateway.backends.products.AggregateTelemetry,
        pb.AggregateTelemetryRequest(
            equipment_id=equipment_id,
            signals=query.signals,
            start_ms=start_ms,
            end_ms=end_ms,
            bucket_ms=query.bucket_s * 1000,
        ),
        ctx,
    )
    return AggregatesResponse(
        signals=[
            SignalAggregatesBody(
                signal=a.signal,
                bucket_start_ms=list(a.bucket_start_ms),
                min=list(a.min),
                max=list(a.max),
                mean=list(a.mean),
                count=list(a.count),
            )
            for a in response.signals
        ]
    )


# -- owner routes ----------------------------------------------------------------


@router.get(
    "/v1/equipment/{equipment_id}/twin",
    summary="A machine's twin: reported state, desired state, and the delta between them",
    responses=error_responses(401, 403, 404, 429, 503),
)
def get_twin(equipment_id: str, ctx: ViewerCall, gateway: GatewayDep) -> TwinResponse:
    return _twin(gateway, ctx, equipment_id)


@router.get(
    "/v1/twins",
    summary="The twins of several machines at once (a fleet view)",
    description="In the order asked; an unknown machine is a 404 naming it.",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def batch_get_twins(
    ctx: ViewerCall,
    gateway: GatewayDep,
    equipment_ids: Annotated[
        list[str], Query(min_length=1, max_length=100, description="At most 100 machines")
    ],
) -> TwinsResponse:
    twins = gateway.call(
        gateway.backends.products.BatchGetTwins,
        pb.BatchGetTwinsRequest(equipment_ids=equipment_ids),
        ctx,
    ).twins
    return TwinsResponse(items=[twin_body(twin) for twin in twins])


DESIRED_DESCRIPTION = (
    "Changes the machine's desired properties by a JSON merge patch (null removes a "
    "property) and answers the twin. Give the desired version you last read: if the desired "
    "state moved on since, nothing changes and the answer is 409. The machine gets the new "
    "desired state over its device link (at once, or when it connects) and reports the "
    "version it applied."
)


@router.patch(
    "/v1/equipment/{equipment_id}/twin",
    summary="Change a machine's desired state",
    description=DESIRED_DESCRIPTION,
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
def update_desired_state(
    equipment_id: str, body: UpdateDesiredStateRequest, ctx: OperatorCall, gateway: GatewayDep
) -> TwinResponse:
    return _update_desired(gateway, ctx, equipment_id, body)


@router.get(
    "/v1/equipment/{equipment_id}/telemetry",
    summary="A machine's raw points in a time range",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def list_points(
    equipment_id: str, ctx: ViewerCall, gateway: GatewayDep, query: PointsQueryDep
) -> PointsResponse:
    return _points(gateway, ctx, equipment_id, query)


@router.get(
    "/v1/equipment/{equipment_id}/telemetry/aggregates",
    summary="A machine's points summarised per time bucket (min, max, mean, count)",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def aggregate_points(
    equipment_id: str, ctx: ViewerCall, gateway: GatewayDep, query: AggregatesQueryDep
) -> AggregatesResponse:
    return _aggregates(gateway, ctx, equipment_id, query)


# -- equipment-maker routes, through an access grant -----------------------------


@router.get(
    "/v1/granted-equipment/{equipment_id}/twin",
    summary="(Equipment makers) a granted machine's reported state",
    responses=error_responses(401, 404, 429, 503),
)
def get_granted_twin(equipment_id: str, granted: GrantedDep, gateway: GatewayDep) -> TwinResponse:
    return _twin(gateway, granted.context(equipment_id, Scope.TWIN_READ), equipment_id)


@router.patch(
    "/v1/granted-equipment/{equipment_id}/twin",
    summary="(Equipment makers) change a granted machine's desired state",
    description=DESIRED_DESCRIPTION + " Needs a grant with the config:write scope.",
    responses=error_responses(401, 404, 409, 422, 429, 503),
)
def update_granted_desired_state(
    equipment_id: str, body: UpdateDesiredStateRequest, granted: GrantedDep, gateway: GatewayDep
) -> TwinResponse:
    ctx = granted.context(equipment_id, Scope.CONFIG_WRITE)
    return _update_desired(gateway, ctx, equipment_id, body)


@router.get(
    "/v1/granted-equipment/{equipment_id}/telemetry",
    summary="(Equipment makers) a granted machine's raw points",
    responses=error_responses(401, 404, 422, 429, 503),
)
def list_granted_points(
    equipment_id: str, granted: GrantedDep, gateway: GatewayDep, query: PointsQueryDep
) -> PointsResponse:
    ctx = granted.context(equipment_id, Scope.TELEMETRY_READ)
    return _points(gateway, ctx, equipment_id, query)


@router.get(
    "/v1/granted-equipment/{equipment_id}/telemetry/aggregates",
    summary="(Equipment makers) a granted machine's points per time bucket",
    responses=error_responses(401, 404, 422, 429, 503),
)
def aggregate_granted_points(
    equipment_id: str, granted: GrantedDep, gateway: GatewayDep, query: AggregatesQueryDep
) -> AggregatesResponse:
    ctx = granted.context(equipment_id, Scope.TELEMETRY_READ)
    return _aggregates(gateway, ctx, equipment_id, query)
