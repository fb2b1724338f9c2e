"""Telemetry as the products service keeps it: recorded batches, the twin's
reported state, and the questions people ask of a machine's time series.

Storing is idempotent on the natural key (machine, signal, timestamp): a batch
delivered or sent twice stores each point once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from imcloud_core.errors import FieldViolation, InvalidArgument
from imcloud_core.paging import page_size
from imcloud_products.domain.desired import DesiredState, PropertyDelta, delta_of
from imcloud_products.domain.model import AnomalyEpisode

OUT_OF_RANGE = 1  # point flag bit
MAX_POINTS_PAGE = 10_000
DEFAULT_POINTS_PAGE = 1_000
MAX_BUCKETS = 10_000
MIN_BUCKET_MS = 1_000
ROLLUP_MS = 60_000


@dataclass(frozen=True)
class RecordedSeries:
    signal: str
    timestamps_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    flags: npt.NDArray[np.int16]


@dataclass(frozen=True)
class RecordedBatch:
    tenant_id: str
    equipment_id: str
    sequence_id: int
    receive_ms: int
    series: tuple[RecordedSeries, ...]
    # A checksum of the batch's content, to tell a resend from a reused sequence id.
    fingerprint: int = 0


@dataclass(frozen=True)
class LinkChange:
    tenant_id: str
    equipment_id: str
    link_open: bool
    change_ms: int


@dataclass(frozen=True)
class ReportedValue:
    signal: str
    value: float
    ts_ms: int
    out_of_range: bool


@dataclass(frozen=True)
class ReportedState:
    """What the store knows of a machine: its latest values, when it was last heard
    from, and whether (and since when) its device link is open."""

    reported: list[ReportedValue] = field(default_factory=list)
    last_seen_ms: int | None = None
    link_open: bool = False
    link_change_ms: int = 0


@dataclass(frozen=True)
class TwinState:
    equipment_id: str
    reported: tuple[ReportedValue, ...]
    last_seen_ms: int | None
    connected: bool
    # 100 in normal running, towards 0 the more anomalous; None while learning.
    health_score: float | None
    open_episodes: tuple[AnomalyEpisode, ...]
    desired: DesiredState
    # The desired properties the machine does not run yet.
    delta: tuple[PropertyDelta, ...]


@dataclass(frozen=True)
class SeriesPoints:
    signal: str
    timestamps_ms: list[int]
    values: list[float]
    flags: list[int]


@dataclass(frozen=True)
class Aggregates:
    signal: str
    bucket_start_ms: list[int]
    minimum: list[float]
    maximum: list[float]
    mean: list[float]
    count: list[int]


def check_range(start_ms: int, end_ms: int) -> None:
    if end_ms <= start_ms:
        raise InvalidArgument(
            "the time range is empty", violations=(FieldViolation("end_ms", "must be > start_ms"),)
        )


def check_buckets(start_ms: int, end_ms: int, bucket_ms: int) -> None:
    check_range(start_ms, end_ms)
    if bucket_ms < MIN_BUCKET_MS:
        raise InvalidArgument(
            "buckets are too narrow",
            violations=(FieldViolation("bucket_ms", f"must be at least {MIN_BUCKET_MS}"),),
        )
    buckets = (end_ms - 1) // bucket_ms - start_ms // bucket_ms + 1
    if buckets > MAX_BUCKETS:
        raise InvalidArgument(
            f"{buckets} buckets asked for; at most {MAX_BUCKETS} per signal",
            violations=(FieldViolation("bucket_ms", "widen the buckets or narrow the range"),),
        )


def points_page_size(requested: int) -> int:
    return page_size(requested, default=DEFAULT_POINTS_PAGE, maximum=MAX_POINTS_PAGE)


def group_points(rows: list[tuple[str, int, float, int]]) -> list[SeriesPoints]:
    """Rows ordered by (signal, time) as one column-wise series per signal."""
    grouped: dict[str, SeriesPoints] = {}
    for signal, ts_ms, value, flags in rows:
        series = grouped.get(signal)
        if series is None:
            series = grouped[signal] = SeriesPoints(signal, [], [], [])
        series.timestamps_ms.append(ts_ms)
        series.values.append(value)
        series.flags.append(flags)
    return list(grouped.values())


def twin_state(
    *,
    equipment_id: str,
    reported: list[ReportedValue],
    last_seen_ms: int | None,
    link_open: bool,
    link_change_ms: int,
    now_ms: int,
    offline_after_ms: int,
    health_score: float | None,
    open_episodes: list[AnomalyEpisode],
    desired: DesiredState,
) -> TwinState:
    """A machine is connected while its device link is open, or, for machines
    that send over HTTP, while it was heard from recently (and not only before
    its link closed)."""
    recent = (
        last_seen_ms is not None
        and now_ms - last_seen_ms < offline_after_ms
        and last_seen_ms > link_change_ms
    )
    return TwinState(
        equipment_id=equipment_id,
        reported=tuple(sorted(reported, key=lambda r: r.signal)),
        last_seen_ms=last_seen_ms,
        connected=link_open or recent,
        health_score=health_score,
        open_episodes=tuple(open_episodes),
        desired=desired,
        delta=tuple(delta_of(desired, {r.signal: r.value for r in reported})),
    )
