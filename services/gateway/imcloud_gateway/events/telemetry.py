"""Telemetry and device connection facts, straight onto imcloud.telemetry.v1.

Telemetry skips the outbox: a batch is acknowledged to the machine only after
Kafka acknowledged it (acks=all), so a failure makes the machine resend, and the
natural key (machine, signal, time) makes the resend harmless.
"""

from __future__ import annotations

from datetime import UTC, datetime

from imcloud.products.v1 import telemetry_pb2 as pb
from imcloud_core.bus import EventBus, OutgoingRecord
from imcloud_core.convert import timestamp, timestamp_ms
from imcloud_core.events import Topic, new_envelope
from imcloud_core.ids import utcnow
from imcloud_gateway.domain.model import DevicePrincipal
from imcloud_gateway.domain.telemetry import CheckedBatch

SOURCE = "gateway"


class TelemetryPublisher:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    def __call__(self, device: DevicePrincipal, batch: CheckedBatch, now_ms: int) -> None:
        recorded = pb.TelemetryRecorded(
            equipment_id=device.equipment_id,
            sequence_id=batch.sequence_id,
            series=[
                pb.RecordedSeries(
                    series=pb.SignalSeries(
                        signal=s.signal,
                        timestamps_ms=s.timestamps_ms.tolist(),
                        values=s.values.tolist(),
                    ),
                    out_of_range=s.out_of_range.tolist(),
                )
                for s in batch.accepted
            ],
            receive_time=timestamp_ms(now_ms),
        )
        envelope = new_envelope(
            tenant_id=device.tenant_id,
            event_type="telemetry.recorded",
            payload=recorded,
            source=SOURCE,
            occurred_at=datetime.fromtimestamp(now_ms / 1000, UTC),
            event_id=f"{device.equipment_id}/{batch.sequence_id}",
        )
        self._publish(device, envelope.SerializeToString())

    def connection_changed(self, device: DevicePrincipal, *, connected: bool) -> None:
        now = utcnow()
        changed = pb.DeviceConnectionChanged(
            equipment_id=device.equipment_id, connected=connected, change_time=timestamp(now)
        )
        envelope = new_envelope(
            tenant_id=device.tenant_id,
            event_type="device.connected" if connected else "device.disconnected",
            payload=changed,
            source=SOURCE,
            occurred_at=now,
        )
        self._publish(device, envelope.SerializeToString())

    def _publish(self, device: DevicePrincipal, value: bytes) -> None:
        self._bus.publish([OutgoingRecord(Topic.TELEMETRY, device.equipment_id, value)])
