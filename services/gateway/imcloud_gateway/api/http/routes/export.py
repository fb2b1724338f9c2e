"""Exports: a machine's points and aggregates as CSV or Parquet, OEE and work orders
as CSV, streamed.

Each export pages through the same gRPC query its JSON route makes, and writes
each page out before it asks for the next, so memory stays flat however long the
range. The first page is asked for before the answer starts: an unknown machine,
another tenant's or a refused range gets the JSON route's 4xx, not a cut-off file.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import chain
from typing import Annotated, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from prometheus_client import Counter

from imcloud.production.v1 import production_service_pb2 as production_pb
from imcloud.products.v1 import products_service_pb2 as pb
from imcloud_core.rpc import CallContext
from imcloud_gateway.api.http.deps import GatewayDep, GrantedDep, ViewerCall
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.routes.alarms import (
    AlarmStates,
    MinSeverity,
    OpenOnly,
    alarm_body,
    every_alarm,
    list_request,
)
from imcloud_gateway.api.http.routes.performance import (
    MAX_OEE_DAYS,
    OEE_BREAKDOWNS,
    ScopeId,
    _one_scope,
    oee_body,
)
from imcloud_gateway.api.http.routes.production import checked_range
from imcloud_gateway.api.http.routes.telemetry import (
    BucketSeconds,
    End,
    Signals,
    Start,
    _products_query,
    _range_ms,
)
from imcloud_gateway.api.http.routes.work_orders import (
    WORK_ORDER_STATES,
    IdFilter,
    work_order_body,
)
from imcloud_gateway.api.http.schemas.work_orders import WorkOrderStateName
from imcloud_gateway.domain.model import Scope

router = APIRouter(tags=["telemetry"])

EXPORTS = Counter(
    "imcloud_exports_total", "Exports started (their first page answered)", ["kind", "format"]
)
EXPORTED_ROWS = Counter("imcloud_export_rows_total", "Rows written by exports", ["kind", "format"])

Format = Literal["csv", "parquet"]
FormatQuery = Annotated[Format, Query(description="csv or parquet")]
POINTS_PAGE = 10_000  # the most ListTelemetryPoints answers at once
BUCKETS_PER_CALL = 10_000  # the most buckets AggregateTelemetry answers per signal
WORK_ORDERS_PAGE = 500
ROW_GROUP_ROWS = 100_000  # rows per Parquet row group
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def _file_responses(*statuses: int, formats: Iterable[str] = ("csv", "parquet")) -> Any:
    return {
        200: {
            "description": "The file, streamed",
            "content": {MEDIA_TYPES[f]: {"schema": {"type": "string"}} for f in formats},
        },
        **error_responses(*statuses),
    }


# -- writing -----------------------------------------------------------------------

# A page of rows in columns: name -> numpy array (or list) of equal length.
Columns = dict[str, Any]


def _iso_ms(stamps_ms: np.ndarray) -> np.ndarray:
    return np.char.add(
        np.datetime_as_string(stamps_ms.astype("datetime64[ms]"), unit="ms"), "Z"
    ).astype(object)


def _csv_chunks(header: list[str], pages: Iterable[list[list[Any]]]) -> Iterator[bytes]:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for rows in pages:
        writer.writerows(rows)
        yield text.getvalue().encode()
        text.seek(0)
        text.truncate()
    if text.tell():
        yield text.getvalue().encode()


class _Drain(io.RawIOBase):
    """A sink whose written bytes are taken away after each row group."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        taken = b"".join(self._parts)
        self._parts.clear()
        return taken


def _parquet_chunks(schema: pa.Schema, pages: Iterable[Columns]) -> Iterator[bytes]:
    sink = _Drain()
    pending: list[pa.Table] = []
    rows = 0
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for page in pages:
            pending.append(pa.table(page, schema=schema))
            rows += pending[-1].num_rows
            if rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.concat_tables(pending), row_group_size=rows)
                pending, rows = [], 0
                yield sink.take()
        if pending:
            writer.write_table(pa.concat_tables(pending), row_group_size=rows)
    yield sink.take()


def _counted(pages: Iterable[Columns], kind: str, format: str) -> Iterator[Columns]:
    rows = EXPORTED_ROWS.labels(kind=kind, format=format)
    for page in pages:
        rows.inc(len(next(iter(page.values()))) if page else 0)
        yield page


def _as_rows(columns: Columns, formatters: dict[str, Callable[[Any], Any]]) -> list[list[Any]]:
    formatted = [formatters.get(name, list)(values) for name, values in columns.items()]
    return [list(row) for row in zip(*formatted, strict=True)]


def _stream(
    pages: Iterator[Columns],
    *,
    kind: str,
    format: Format,
    schema: pa.Schema,
    formatters: dict[str, Callable[[Any], Any]],
    filename: str,
) -> StreamingResponse:
    """The export's answer, once its first page is in (an error there is the caller's)."""
    first = next(pages, None)
    EXPORTS.labels(kind=kind, format=format).inc()
    every = _counted(chain([first] if first is not None else [], pages), kind, format)
    chunks: Iterator[bytes]
    if format == "parquet":
        chunks = _parquet_chunks(schema, every)
    else:
        chunks = _csv_chunks(schema.names, (_as_rows(page, formatters) for page in every))
    return StreamingResponse(
        chunks,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}.{format}"'},
    )


def _floats(values: np.ndarray) -> list[str]:
    return [repr(v) for v in values.tolist()]


# -- a machine's points ------------------------------------------------------------

POINTS_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("signal", pa.string()),
        ("value", pa.float64()),
        ("out_of_range", pa.bool_()),
    ]
)
POINTS_FORMATTERS: dict[str, Callable[[Any], Any]] = {
    "timestamp": _iso_ms,
    "value": _floats,
    "out_of_range": lambda flags: flags.astype(np.int8).tolist(),
}


def _point_pages(
    gateway: GatewayDep,
    ctx: CallContext,
    equipment_id: str,
    start: datetime,
    end: datetime,
    signals: list[str],
) -> Iterator[Columns]:
    start_ms, end_ms = _range_ms(start, end)
    token = ""
    while True:
        response = _products_query(
            gateway,
            gateway.backends.products.ListTelemetryPoints,
            pb.ListTelemetryPointsRequest(
                equipment_id=equipment_id,
                signals=signals,
                start_ms=start_ms,
                end_ms=end_ms,
                page_size=POINTS_PAGE,
                page_token=token,
            ),
            ctx,
        )
        yield _point_columns(response)
        token = response.next_page_token
        if not token:
            return


def _point_columns(response: pb.ListTelemetryPointsResponse) -> Columns:
    """The page's points in the store's order: by signal, each oldest first."""
    series = list(response.series)
    return {
        "timestamp": np.concatenate(
            [np.asarray(s.timestamps_ms, np.int64) for s in series] or [np.empty(0, np.int64)]
        ),
        "signal": np.concatenate(
            [np.full(len(s.timestamps_ms), s.signal, dtype=object) for s in series]
            or [np.empty(0, object)]
        ),
        "value": np.concatenate(
            [np.asarray(s.values, np.float64) for s in series] or [np.empty(0, np.float64)]
        ),
        "out_of_range": np.concatenate(
            [np.asarray(s.flags, np.uint32) & 1 for s in series] or [np.empty(0, np.uint32)]
        ).astype(bool),
    }


def _export_points(
    gateway: GatewayDep,
    ctx: CallContext,
    equipment_id: str,
    start: datetime,
    end: datetime,
    signals: list[str],
    format: Format,
) -> StreamingResponse:
    return _stream(
        _point_pages(gateway, ctx, equipment_id, start, end, signals),
        kind="telemetry",
        format=format,
        schema=POINTS_SCHEMA,
        formatters=POINTS_FORMATTERS,
        filename=f"telemetry-{equipment_id}",
    )


POINTS_DESCRIPTION = (
    "One row per point, signal by signal (in name order), each oldest first: timestamp "
    "(ISO 8601, UTC, milliseconds), signal, value and out_of_range (1 = outside the "
    "signal's valid range). The same points as "
    "GET .../telemetry for the same range, without a page size: the file is streamed."
)


@router.get(
    "/v1/equipment/{equipment_id}/telemetry:export",
    summary="A machine's raw points in a time range, as a CSV or Parquet file",
    description=POINTS_DESCRIPTION,
    response_class=StreamingResponse,
    responses=_file_responses(401, 403, 404, 422, 429, 503),
)
def export_points(
    equipment_id: str,
    ctx: ViewerCall,
    gateway: GatewayDep,
    start: Start,
    end: End,
    signal: Signals = [],  # noqa: B006 - FastAPI copies query defaults
    format: FormatQuery = "csv",
) -> StreamingResponse:
    return _export_points(gateway, ctx, equipment_id, start, end, signal, format)


@router.get(
    "/v1/granted-equipment/{equipment_id}/telemetry:export",
    summary="(Equipment makers) a granted machine's raw points, as a CSV or Parquet file",
    description=POINTS_DESCRIPTION,
    response_class=StreamingResponse,
    responses=_file_responses(401, 404, 422, 429, 503),
)
def export_granted_points(
    equipment_id: str,
    granted: GrantedDep,
    gateway: GatewayDep,
    start: Start,
    end: End,
    signal: Signals = [],  # noqa: B006 - FastAPI copies query defaults
    format: FormatQuery = "csv",
) -> StreamingResponse:
    ctx = granted.context(equipment_id, Scope.TELEMETRY_READ)
    return _export_points(gateway, ctx, equipment_id, start, end, signal, format)


# -- a machine's aggregates --------------------------------------------------------

AGGREGATES_SCHEMA = pa.schema(
    [
        ("bucket_start", pa.timestamp("ms", tz="UTC")),
        ("signal", pa.string()),
        ("min", pa.float64()),
        ("max", pa.float64()),
        ("mean", pa.float64()),
        ("count", pa.int64()),
    ]
)
AGGREGATES_FORMATTERS: dict[str, Callable[[Any], Any]] = {
    "bucket_start": _iso_ms,
    "min": _floats,
    "max": _floats,
    "mean": _floats,
}


def _aggregate_pages(
    gateway: GatewayDep,
    ctx: CallContext,
    equipment_id: str,
    start: datetime,
    end: datetime,
    bucket_s: int,
    signals: list[str],
) -> Iterator[Columns]:
    """Windows of at most BUCKETS_PER_CALL whole buckets, one call each."""
    start_ms, end_ms = _range_ms(start, end)
    bucket_ms = bucket_s * 1000
    window_start = start_ms
    while window_start < end_ms:
        window_end = min(end_ms, (window_start // bucket_ms + BUCKETS_PER_CALL) * bucket_ms)
        response = _products_query(
            gateway,
            gateway.backends.products.AggregateTelemetry,
            pb.AggregateTelemetryRequest(
                equipment_id=equipment_id,
                signals=signals,
                start_ms=window_start,
                end_ms=window_end,
                bucket_ms=bucket_ms,
            ),
            ctx,
        )
        yield _aggregate_columns(response)
        window_start = window_end


def _aggregate_columns(response: pb.AggregateTelemetryResponse) -> Columns:
    signals = sorted(response.signals, key=lambda a: a.signal)

    def column(name: str, dtype: Any) -> np.ndarray:
        return np.concatenate(
            [np.asarray(getattr(a, name), dtype) for a in signals] or [np.empty(0, dtype)]
        ).astype(dtype)

    starts = column("bucket_start_ms", np.int64)
    names = np.concatenate(
        [np.full(len(a.bucket_start_ms), a.signal, dtype=object) for a in signals]
        or [np.empty(0, object)]
    )
    order = np.argsort(starts, kind="stable")
    return {
        "bucket_start": starts[order],
        "signal": names[order],
        "min": column("min", np.float64)[order],
        "max": column("max", np.float64)[order],
        "mean": column("mean", np.float64)[order],
        "count": column("count", np.int64)[order],
    }


def _export_aggregates(
    gateway: GatewayDep,
    ctx: CallContext,
    equipment_id: str,
    start: datetime,
    end: datetime,
    bucket_s: int,
    signals: list[str],
    format: Format,
) -> StreamingResponse:
    return _stream(
        _aggregate_pages(gateway, ctx, equipment_id, start, end, bucket_s, signals),
        kind="aggregates",
        format=format,
        schema=AGGREGATES_SCHEMA,
        formatters=AGGREGATES_FORMATTERS,
        filename=f"aggregates-{equipment_id}",
    )


AGGREGATES_DESCRIPTION = (
    "One row per signal and bucket with points, oldest first: bucket_start (ISO 8601, UTC), "
    "signal, min, max, mean, count. The same buckets as GET .../telemetry/aggregates, over "
    "a range of any number of buckets: the file is streamed."
)


@router.get(
    "/v1/equipment/{equipment_id}/telemetry/aggregates:export",
    summary="A machine's points per time bucket, as a CSV or Parquet file",
    description=AGGREGATES_DESCRIPTION,
    response_class=StreamingResponse,
    responses=_file_responses(401, 403, 404, 422, 429, 503),
)
def export_aggregates(
    equipment_id: str,
    ctx: ViewerCall,
    gateway: GatewayDep,
    start: Start,
    end: End,
    bucket_s: BucketSeconds = 60,
    signal: Signals = [],  # noqa: B006 - FastAPI copies query defaults
    format: FormatQuery = "csv",
) -> StreamingResponse:
    return _export_aggregates(gateway, ctx, equipment_id, start, end, bucket_s, signal, format)


@router.get(
    "/v1/granted-equipment/{equipment_id}/telemetry/aggregates:export",
    summary="(Equipment makers) a granted machine's points per bucket, as a CSV or Parquet file",
    description=AGGREGATES_DESCRIPTION,
    response_class=StreamingResponse,
    responses=_file_responses(401, 404, 422, 429, 503),
)
def export_granted_aggregates(
    equipment_id: str,
    granted: GrantedDep,
    gateway: GatewayDep,
    start: Start,
    end: End,
    bucket_s: BucketSeconds = 60,
    signal: Signals = [],  # noqa: B006 - FastAPI copies query defaults
    format: FormatQuery = "csv",
) -> StreamingResponse:
    ctx = granted.context(equipment_id, Scope.TELEMETRY_READ)
    return _export_aggregates(gateway, ctx, equipment_id, start, end, bucket_s, signal, format)


# -- OEE and work orders (CSV) -------------------------------------------------------


def _flat(body: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as prefixed columns, lists as JSON, times as ISO 8601."""
    flat: dict[str, Any] = {}
    for name, value in body.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{name}_")
        elif isinstance(value, list):
            flat[f"{prefix}{name}"] = json.dumps(value, default=str)
        elif isinstance(value, datetime):
            flat[f"{prefix}{name}"] = value.isoformat().replace("+00:00", "Z")
        else:
            flat[f"{prefix}{name}"] = "" if value is None else value
    return flat


def _csv_of_bodies(
    bodies: Iterator[dict[str, Any]], *, kind: str, filename: str
) -> StreamingResponse:
    first = next(bodies, None)
    EXPORTS.labels(kind=kind, format="csv").inc()
    rows = EXPORTED_ROWS.labels(kind=kind, format="csv")
    header = list(_flat(first)) if first is not None else []

    def pages() -> Iterator[list[list[Any]]]:
        for body in chain([first] if first is not None else [], bodies):
            rows.inc()
            yield [list(_flat(body).values())]

    return StreamingResponse(
        _csv_chunks(header, pages()),
        media_type=MEDIA_TYPES["csv"],
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


@router.get(
    "/v1/oee:export",
    tags=["production"],
    summary="OEE of a station, line or plant over a time range, as a CSV file",
    description=(
        "The figures of GET /v1/oee, one row for the total and one per part of the "
        "breakdown (nested figures as prefixed columns: time_..., quantities_..., losses_...)."
    ),
    response_class=StreamingResponse,
    responses=_file_responses(401, 404, 422, 429, 503, formats=["csv"]),
)
def export_oee(
    start_time: Start,
    end_time: End,
    ctx: ViewerCall,
    gateway: GatewayDep,
    station_id: ScopeId = "",
    line_id: ScopeId = "",
    plant_id: ScopeId = "",
    breakdown: Annotated[
        str, Query(pattern="^(station|shift)?$", description="station or shift: parts as well")
    ] = "",
) -> StreamingResponse:
    _one_scope(station_id, line_id, plant_id)
    start, end = checked_range(start_time, end_time, max_days=MAX_OEE_DAYS)

    def bodies() -> Iterator[dict[str, Any]]:
        response = gateway.call(
            gateway.backends.production.GetOee,
            production_pb.GetOeeRequest(
                station_id=station_id,
                line_id=line_id,
                plant_id=plant_id,
                start_time=start,
                end_time=end,
                breakdown=OEE_BREAKDOWNS[breakdown],
            ),
            ctx,
        )
        for oee in chain([response.total], response.parts):
            yield oee_body(oee).model_dump()

    return _csv_of_bodies(bodies(), kind="oee", filename="oee")


@router.get(
    "/v1/work-orders:export",
    tags=["production"],
    summary="Work orders, oldest first, as a CSV file",
    description=(
        "The work orders of GET /v1/work-orders (state and plant_id narrow them), all "
        "pages: one row per order, its bom, routing and operations as JSON."
    ),
    response_class=StreamingResponse,
    responses=_file_responses(401, 422, 429, 503, formats=["csv"]),
)
def export_work_orders(
    ctx: ViewerCall,
    gateway: GatewayDep,
    state: Annotated[
        list[WorkOrderStateName], Query(max_length=5, description="Only orders in these states")
    ] = [],  # noqa: B006 - FastAPI copies query defaults
    plant_id: IdFilter = "",
) -> StreamingResponse:
    def bodies() -> Iterator[dict[str, Any]]:
        token = ""
        while True:
            response = gateway.call(
                gateway.backends.production.ListWorkOrders,
                production_pb.ListWorkOrdersRequest(
                    states=[WORK_ORDER_STATES[s] for s in state],
                    plant_id=plant_id,
                    page_size=WORK_ORDERS_PAGE,
                    page_token=token,
                ),
                ctx,
            )
            for order in response.work_orders:
                yield work_order_body(order).model_dump()
            token = response.next_page_token
            if not token:
                return

    return _csv_of_bodies(bodies(), kind="work_orders", filename="work-orders")


@router.get(
    "/v1/alarms:export",
    tags=["servitization"],
    summary="Alarms, newest raised first, as a CSV file",
    description="The alarms of GET /v1/alarms (its filters narrow them), all pages.",
    response_class=StreamingResponse,
    responses=_file_responses(401, 422, 429, 503, formats=["csv"]),
)
def export_alarms(
    ctx: ViewerCall,
    gateway: GatewayDep,
    state: AlarmStates = None,
    open_only: OpenOnly = False,
    equipment_id: IdFilter = "",
    rule_id: IdFilter = "",
    min_severity: MinSeverity = None,
) -> StreamingResponse:
    request = list_request(state, open_only, equipment_id, rule_id, min_severity)
    bodies = (alarm_body(alarm).model_dump() for alarm in every_alarm(gateway, ctx, request))
    return _csv_of_bodies(bodies, kind="alarms", filename="alarms")
