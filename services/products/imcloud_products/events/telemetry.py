"""Consumes imcloud.telemetry.v1: stores points and keeps twins current."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np
from prometheus_client import Counter

from imcloud.products.v1 import telemetry_pb2 as pb
from imcloud_core.bus import Record
from imcloud_core.events import parse_envelope, unpack
from imcloud_products.domain import services
from imcloud_products.domain.anomaly import DetectorConfig
from imcloud_products.domain.ports import TelemetryUnitOfWork
from imcloud_products.domain.telemetry import (
    OUT_OF_RANGE,
    LinkChange,
    RecordedBatch,
    RecordedSeries,
)

GROUP = "products.telemetry"
STORED_POINTS = Counter(
    "imcloud_telemetry_stored_points_total",
    "Telemetry points new to the store",
)
REDELIVERED_POINTS = Counter(
    "imcloud_telemetry_redelivered_points_total",
    "Telemetry points received again (redelivered or resent), not stored twice",
)


class UnreadableTelemetry(ValueError):
    """A record on the telemetry topic that is not telemetry products can read."""


def recorded_batch(
    tenant_id: str, message: pb.TelemetryRecorded, *, fingerprint: int
) -> RecordedBatch:
    series = []
    for recorded in message.series:
        values = np.asarray(recorded.series.values, dtype=np.float64)
        flags = np.zeros(len(values), dtype=np.int16)
        flags[np.asarray(recorded.out_of_range, dtype=np.int64)] = OUT_OF_RANGE
        series.append(
            RecordedSeries(
                signal=recorded.series.signal,
                timestamps_ms=np.asarray(recorded.series.timestamps_ms, dtype=np.int64),
                values=values,
                flags=flags,
            )
        )
    return RecordedBatch(
        tenant_id=tenant_id,
        equipment_id=message.equipment_id,
        sequence_id=message.sequence_id,
        receive_ms=message.receive_time.ToMilliseconds(),
        series=tuple(series),
        fingerprint=fingerprint,
    )


def telemetry_handler(
    unit_of_work: Callable[[], TelemetryUnitOfWork], *, config: DetectorConfig
) -> Callable[[Sequence[Record]], None]:
    """Stores and scores a polled batch of records in one transaction; the bus
    commits after, so a batch delivered again finds itself stored and scored.

    A record that cannot be read raises UnreadableTelemetry, as any failure of
    the data does: the bus delivers the batch again a few times, then record by
    record, and sets the one that still fails aside on imcloud.telemetry.v1.dlq
    as a DeadLetter with the reason (imcloud_core.bus.delivery), so the others
    are stored and the partition moves on.
    """

    def handle(records: Sequence[Record]) -> None:
        batches: list[RecordedBatch] = []
        changes: list[LinkChange] = []
        for record in records:
            read = _read(record)
            if isinstance(read, LinkChange):
                changes.append(read)
            else:
                batches.append(read)
        stored_now = services.record_telemetry(unit_of_work(), batches, changes, config=config)
        received = sum(len(s.values) for b in batches for s in b.series)
        stored = sum(len(s.values) for b in stored_now.fresh for s in b.series)
        STORED_POINTS.inc(stored)
        REDELIVERED_POINTS.inc(received - stored)

    return handle


def _read(record: Record) -> RecordedBatch | LinkChange:
    try:
        envelope = parse_envelope(record.value)
        if (recorded := unpack(envelope, pb.TelemetryRecorded)) is not None:
            fingerprint = zlib.crc32(envelope.payload.value)
            return recorded_batch(envelope.tenant_id, recorded, fingerprint=fingerprint)
        if (changed := unpack(envelope, pb.DeviceConnectionChanged)) is not None:
            return LinkChange(
                tenant_id=envelope.tenant_id,
                equipment_id=changed.equipment_id,
                link_open=changed.connected,
                change_ms=changed.change_time.ToMilliseconds(),
            )
    except Exception as error:
        raise UnreadableTelemetry(f"not telemetry products can read: {error}") from error
    raise UnreadableTelemetry(
        f"not telemetry: the envelope holds {envelope.payload.TypeName() or 'nothing'}"
    )
