"""Consumes imcloud.telemetry.v1: stores points and keeps twins current."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from prometheus_client import Counter

from imcloud.products.v1 import telemetry_pb2 as pb
from imcloud_core.bus import EventBus, OutgoingRecord, Record
from imcloud_core.events import parse_envelope, unpack
from imcloud_core.logging import get_logger
from imcloud_products.domain.telemetry import (
    OUT_OF_RANGE,
    LinkChange,
    RecordedBatch,
    RecordedSeries,
    TelemetryStore,
)

log = get_logger(__name__)

GROUP = "products.telemetry"
STORED_POINTS = Counter(
    "imcloud_telemetry_stored_points_total",
    "Telemetry points stored (new points only; redeliveries add none)",
)
REDELIVERED_POINTS = Counter(
    "imcloud_telemetry_duplicate_points_total",
    "Telemetry points received again (redelivered or resent) and not stored twice",
)
DEAD_LETTERS = Counter(
    "imcloud_telemetry_dead_letters_total", "Telemetry records that could not be read"
)


def recorded_batch(tenant_id: str, message: pb.TelemetryRecorded) -> RecordedBatch:
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
    )


def telemetry_handler(
    store: TelemetryStore,
    bus: EventBus,
    *,
    after_store: Callable[[list[RecordedBatch]], None] = lambda batches: None,
) -> Callable[[Sequence[Record]], None]:
    """Stores a polled batch of records in one transaction; the bus commits after."""

    def handle(records: Sequence[Record]) -> None:
        batches: list[RecordedBatch] = []
        changes: list[LinkChange] = []
        unreadable: list[Record] = []
        for record in records:
            try:
                envelope = parse_envelope(record.value)
                if (recorded := unpack(envelope, pb.TelemetryRecorded)) is not None:
                    batches.append(recorded_batch(envelope.tenant_id, recorded))
                elif (changed := unpack(envelope, pb.DeviceConnectionChanged)) is not None:
                    changes.append(
                        LinkChange(
                            tenant_id=envelope.tenant_id,
                            equipment_id=changed.equipment_id,
                            link_open=changed.connected,
                            change_ms=changed.change_time.ToMilliseconds(),
                        )
                    )
                else:
                    unreadable.append(record)
            except Exception:
                log.exception("unreadable telemetry record", offset=record.offset)
                unreadable.append(record)
        if unreadable:
            # Kept on a dead-letter topic for inspection, never silently dropped.
            bus.publish([OutgoingRecord(f"{r.topic}.dlq", r.key, r.value) for r in unreadable])
            DEAD_LETTERS.inc(len(unreadable))
        if batches:
            received = sum(len(s.values) for b in batches for s in b.series)
            added = store.record(batches)
            STORED_POINTS.inc(added)
            REDELIVERED_POINTS.inc(received - added)
            after_store(batches)
        if changes:
            store.record_link_changes(changes)

    return handle
