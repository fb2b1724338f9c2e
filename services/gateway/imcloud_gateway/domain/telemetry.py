"""Checking a machine's telemetry batch against its equipment model.

Each point is accepted, accepted and flagged, or refused with a reason; refusing
some points never drops the valid points of the same batch. Choices:

- values outside a signal's valid range are accepted and flagged (the sensor
  may be right, and a machine running out of range is what people want to see);
- NaN and infinities, unknown signals, wrong types, timestamps outside the
  window and repeated (signal, timestamp) pairs are refused;
- a batch over the size limit is refused whole, before any work is done on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from imcloud_core.errors import FieldViolation, InvalidArgument, NotFound
from imcloud_gateway.domain.model import DevicePrincipal

Timestamps = npt.NDArray[np.int64]

# The products store keeps sequence ids and timestamps as bigint: a larger number
# would be acknowledged here and then fail to be stored.
MAX_STORED_INTEGER = 2**63 - 1
Values = npt.NDArray[np.float64]


class SignalKind(StrEnum):
    DOUBLE = "double"
    INTEGER = "integer"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class SignalSpec:
    name: str
    kind: SignalKind = SignalKind.DOUBLE
    min_value: float | None = None
    max_value: float | None = None


class RefusalReason(StrEnum):
    UNKNOWN_SIGNAL = "unknown_signal"
    WRONG_TYPE = "wrong_type"
    NOT_FINITE = "not_finite"
    TIMESTAMP_OUT_OF_WINDOW = "timestamp_out_of_window"
    MALFORMED_SERIES = "malformed_series"
    BATCH_TOO_LARGE = "batch_too_large"
    DUPLICATE_POINT = "duplicate_point"


@dataclass(frozen=True)
class IncomingSeries:
    signal: str
    timestamps_ms: Timestamps
    values: Values


@dataclass(frozen=True)
class AcceptedSeries:
    signal: str
    timestamps_ms: Timestamps
    values: Values
    # Positions of points outside the signal's valid range.
    out_of_range: npt.NDArray[np.uint32]


@dataclass(frozen=True)
class Refusal:
    signal: str
    reason: RefusalReason
    points: int
    detail: str = ""


@dataclass(frozen=True)
class TelemetryLimits:
    max_points_per_batch: int
    max_future_ms: int
    max_age_ms: int


@dataclass
class CheckedBatch:
    sequence_id: int
    accepted: list[AcceptedSeries] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def accepted_points(self) -> int:
        return sum(len(s.values) for s in self.accepted)

    @property
    def flagged_points(self) -> int:
        return sum(len(s.out_of_range) for s in self.accepted)


def check_batch(
    *,
    sequence_id: int,
    series: Sequence[IncomingSeries],
    signals: dict[str, SignalSpec],
    now_ms: int,
    limits: TelemetryLimits,
) -> CheckedBatch:
    if not 0 <= sequence_id <= MAX_STORED_INTEGER:
        raise InvalidArgument(
            f"sequence_id {sequence_id} cannot be stored",
            violations=(FieldViolation("sequence_id", f"must lie in [0, {MAX_STORED_INTEGER}]"),),
        )
    checked = CheckedBatch(sequence_id=sequence_id)
    total = sum(len(s.values) for s in series)
    if total > limits.max_points_per_batch:
        checked.refusals.append(
            Refusal(
                "",
                RefusalReason.BATCH_TOO_LARGE,
                total,
                f"{total} points; at most {limits.max_points_per_batch} per batch",
            )
        )
        return checked
    window = (now_ms - limits.max_age_ms, now_ms + limits.max_future_ms)
    seen: dict[str, Timestamps] = {}
    for incoming in series:
        _check_series(incoming, signals.get(incoming.signal), window, seen, checked)
    return checked


def _check_series(
    incoming: IncomingSeries,
    spec: SignalSpec | None,
    window: tuple[int, int],
    seen: dict[str, Timestamps],
    checked: CheckedBatch,
) -> None:
    name = incoming.signal
    count = len(incoming.values)
    if count == 0:
        return
    if not name or len(incoming.timestamps_ms) != count:
        checked.refusals.append(
            Refusal(
                name,
                RefusalReason.MALFORMED_SERIES,
                max(count, len(incoming.timestamps_ms)),
                "the signal needs a name and as many timestamps as values",
            )
        )
        return
    if spec is None:
        checked.refusals.append(
            Refusal(name, RefusalReason.UNKNOWN_SIGNAL, count, "not a signal of this model")
        )
        return

    stamps, values = incoming.timestamps_ms, incoming.values
    keep = np.ones(count, dtype=bool)

    def refuse(mask: npt.NDArray[np.bool_], reason: RefusalReason, detail: str) -> None:
        newly = mask & keep
        if newly.any():
            checked.refusals.append(Refusal(name, reason, int(newly.sum()), detail))
            keep[newly] = False

    refuse(~np.isfinite(values), RefusalReason.NOT_FINITE, "NaN or infinite")
    if spec.kind is SignalKind.BOOLEAN:
        refuse((values != 0) & (values != 1), RefusalReason.WRONG_TYPE, "booleans are 0 or 1")
    elif spec.kind is SignalKind.INTEGER:
        with np.errstate(invalid="ignore"):
            refuse(
                values != np.round(values), RefusalReason.WRONG_TYPE, "integers have no fraction"
            )
    refuse(
        (stamps < window[0]) | (stamps > window[1]),
        RefusalReason.TIMESTAMP_OUT_OF_WINDOW,
        f"timestamps must lie in [{window[0]}, {window[1]}] ms",
    )
    refuse(_repeated(stamps, seen.get(name)), RefusalReason.DUPLICATE_POINT, "timestamp repeated")

    stamps, values = stamps[keep], values[keep]
    if len(values) == 0:
        return
    seen[name] = stamps if name not in seen else np.concatenate([seen[name], stamps])
    out_of_range = np.zeros(len(values), dtype=bool)
    if spec.min_value is not None:
        out_of_range |= values < spec.min_value
    if spec.max_value is not None:
        out_of_range |= values > spec.max_value
    checked.accepted.append(
        AcceptedSeries(
            signal=name,
            timestamps_ms=stamps,
            values=values,
            out_of_range=np.flatnonzero(out_of_range).astype(np.uint32),
        )
    )


def _repeated(stamps: Timestamps, earlier: Timestamps | None) -> npt.NDArray[np.bool_]:
    """True for each timestamp seen before, in this series or an earlier one of the batch."""
    _, first = np.unique(stamps, return_index=True)
    repeated = np.ones(len(stamps), dtype=bool)
    repeated[first] = False
    if earlier is not None:
        repeated |= np.isin(stamps, earlier)
    return repeated


# -- ingestion -------------------------------------------------------------------

SignalCatalog = Callable[[str, str], dict[str, SignalSpec]]
"""(tenant id, equipment id) -> the signals of the machine's model; NotFound if none."""

TelemetrySink = Callable[[DevicePrincipal, CheckedBatch, int], None]
"""Makes the accepted points durable (on the bus) before the batch is acknowledged."""


def ingest(
    device: DevicePrincipal,
    *,
    sequence_id: int,
    series: Sequence[IncomingSeries],
    catalog: SignalCatalog,
    sink: TelemetrySink,
    now_ms: int,
    limits: TelemetryLimits,
) -> CheckedBatch:
    """Checks a batch from an authenticated machine and records what is accepted."""
    try:
        signals = catalog(device.tenant_id, device.equipment_id)
    except NotFound:
        raise NotFound(
            f"equipment {device.equipment_id!r} no longer exists; its credential is void"
        ) from None
    checked = check_batch(
        sequence_id=sequence_id, series=series, signals=signals, now_ms=now_ms, limits=limits
    )
    if checked.accepted:
        sink(device, checked, now_ms)
    return checked
