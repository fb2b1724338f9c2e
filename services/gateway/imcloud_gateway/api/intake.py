"""Telemetry batches from either device link (the gRPC stream and HTTP): checked
against the machine's model, recorded, and counted."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np
from prometheus_client import Counter, Histogram

from imcloud_core.ids import now_ms
from imcloud_core.logging import get_logger
from imcloud_gateway.domain import telemetry
from imcloud_gateway.domain.model import DevicePrincipal
from imcloud_gateway.domain.telemetry import (
    CheckedBatch,
    IncomingSeries,
    SignalCatalog,
    TelemetryLimits,
    TelemetrySink,
)

log = get_logger(__name__)

POINTS = Counter(
    "imcloud_telemetry_points_total",
    "Telemetry points received, by outcome (accepted, flagged, refused) and reason",
    ["outcome", "reason"],
)
BATCHES = Counter("imcloud_telemetry_batches_total", "Telemetry batches acknowledged", ["link"])
INGEST_SECONDS = Histogram(
    "imcloud_telemetry_ingest_seconds",
    "From a batch's arrival to its acknowledgement (checked and durable)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


class ReceivedSeries(Protocol):
    """One signal's points as either link received them (protobuf or JSON body)."""

    @property
    def signal(self) -> str: ...

    @property
    def timestamps_ms(self) -> Sequence[int]: ...

    @property
    def values(self) -> Sequence[float]: ...


class TelemetryIntake:
    """Checks and records batches for both links (gRPC stream and HTTP)."""

    def __init__(
        self, *, catalog: SignalCatalog, sink: TelemetrySink, limits: TelemetryLimits
    ) -> None:
        self._catalog = catalog
        self._sink = sink
        self._limits = limits

    def ingest(
        self,
        device: DevicePrincipal,
        *,
        sequence_id: int,
        series: Iterable[ReceivedSeries],
        link: str,
    ) -> CheckedBatch:
        started = time.perf_counter()
        checked = telemetry.ingest(
            device,
            sequence_id=sequence_id,
            series=[
                IncomingSeries(
                    signal=s.signal,
                    timestamps_ms=np.asarray(s.timestamps_ms, dtype=np.int64),
                    values=np.asarray(s.values, dtype=np.float64),
                )
                for s in series
            ],
            catalog=self._catalog,
            sink=self._sink,
            now_ms=now_ms(),
            limits=self._limits,
        )
        _count(checked)
        BATCHES.labels(link).inc()
        INGEST_SECONDS.observe(time.perf_counter() - started)
        return checked


def _count(checked: CheckedBatch) -> None:
    flagged = checked.flagged_points
    POINTS.labels("accepted", "").inc(checked.accepted_points - flagged)
    if flagged:
        POINTS.labels("flagged", "out_of_range").inc(flagged)
    for refusal in checked.refusals:
        POINTS.labels("refused", refusal.reason.value).inc(refusal.points)
    if checked.refusals:
        log.info(
            "telemetry points refused",
            sequence_id=checked.sequence_id,
            refusals=[(r.signal, r.reason.value, r.points) for r in checked.refusals],
        )
