"""What production takes from other services' topics: where machines stand
(imcloud.products-events.v1) and what they report (imcloud.telemetry.v1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
from prometheus_client import Counter

from imcloud.products.v1 import events_pb2 as products_events
from imcloud.products.v1 import telemetry_pb2
from imcloud_core.bus import Record
from imcloud_core.convert import from_timestamp
from imcloud_core.events import parse_envelope, unpack
from imcloud_core.ids import utcnow
from imcloud_production.domain import floor, monitoring
from imcloud_production.domain.execution import Placement
from imcloud_production.domain.monitoring import MachineBatch
from imcloud_production.domain.ports import EquipmentDirectory, ExecutionUnitOfWork
from imcloud_production.domain.tracking import Series

PLACEMENT_GROUP = "production.equipment-placement"
RECIPE_GROUP = "production.recipes"
TELEMETRY_GROUP = "production.telemetry"

TRACKED_BATCHES = Counter(
    "imcloud_production_tracked_batches_total",
    "Telemetry batches that moved a machine's state and counts",
)
UNMAPPED_BATCHES = Counter(
    "imcloud_production_untracked_batches_total",
    "Telemetry batches of machines without a station, a state mapping or a plant calendar",
)
LATE_POINTS = Counter(
    "imcloud_production_late_points_total",
    "State and counter points older than the newest taken from their machine, not counted",
)


class UnreadableRecord(ValueError):
    """A record production cannot read: the bus dead-letters it."""


def placement_handler(
    unit_of_work: Callable[[], ExecutionUnitOfWork],
) -> Callable[[Sequence[Record]], None]:
    """Keeps where each machine stands; an older event than the one stored
    changes nothing, so redelivery and reordering are harmless."""

    def handle(records: Sequence[Record]) -> None:
        for record in records:
            try:
                envelope = parse_envelope(record.value)
                deleted = unpack(envelope, products_events.EquipmentDeleted)
                created = unpack(envelope, products_events.EquipmentCreated)
                updated = unpack(envelope, products_events.EquipmentUpdated)
            except Exception as error:
                raise UnreadableRecord(f"not an event production can read: {error}") from error
            if deleted is not None:
                monitoring.remove_equipment(unit_of_work(), equipment_id=deleted.equipment_id)
                continue
            changed = created or updated
            if changed is None:
                continue
            machine = changed.equipment
            monitoring.place_equipment(
                unit_of_work(),
                Placement(
                    tenant_id=envelope.tenant_id,
                    equipment_id=machine.id,
                    equipment_model_id=machine.equipment_model_id,
                    station_id=machine.station_id,
                    update_time=from_timestamp(machine.update_time),
                ),
            )

    return handle


def recipe_handler(
    unit_of_work: Callable[[], ExecutionUnitOfWork],
) -> Callable[[Sequence[Record]], None]:
    """Marks the recipes a machine applied (desired_state.applied); an operation
    waiting for them runs once all its station's machines did. Applying an older
    version again changes nothing, so redelivery is harmless."""

    def handle(records: Sequence[Record]) -> None:
        for record in records:
            try:
                envelope = parse_envelope(record.value)
                applied = unpack(envelope, products_events.DesiredStateApplied)
            except Exception as error:
                raise UnreadableRecord(f"not an event production can read: {error}") from error
            if applied is None:
                continue
            floor.recipe_applied(
                unit_of_work(),
                tenant_id=envelope.tenant_id,
                equipment_id=applied.equipment_id,
                applied_version=applied.applied_version,
                # When the machine applied it, not when this consumer got to it.
                now=from_timestamp(envelope.occurred_at),
            )

    return handle


def telemetry_handler(
    unit_of_work: Callable[[], ExecutionUnitOfWork],
    directory: EquipmentDirectory | None = None,
) -> Callable[[Sequence[Record]], None]:
    """Moves the machines' tracks past a polled batch in one transaction; the bus
    commits after, and a track takes no point twice."""

    def handle(records: Sequence[Record]) -> None:
        batches = [batch for record in records if (batch := _read(record)) is not None]
        if not batches:
            return
        recorded = monitoring.record_machine_data(
            unit_of_work(), batches, now=utcnow(), directory=directory
        )
        TRACKED_BATCHES.inc(recorded.batches)
        UNMAPPED_BATCHES.inc(recorded.unmapped)
        LATE_POINTS.inc(recorded.late_points)

    return handle


def _read(record: Record) -> MachineBatch | None:
    try:
        envelope = parse_envelope(record.value)
        recorded = unpack(envelope, telemetry_pb2.TelemetryRecorded)
    except Exception as error:
        raise UnreadableRecord(f"not telemetry production can read: {error}") from error
    if recorded is None:
        return None  # a link change: silence is judged by the hold time instead
    return MachineBatch(
        tenant_id=envelope.tenant_id,
        equipment_id=recorded.equipment_id,
        points=RecordedPoints(recorded),
    )


class RecordedPoints(Mapping[str, Series]):
    """A batch's series by signal, turned into arrays only when asked for: most
    signals of a machine are neither its state nor its counters."""

    def __init__(self, recorded: telemetry_pb2.TelemetryRecorded) -> None:
        self._series = {r.series.signal: r.series for r in recorded.series}

    def __getitem__(self, signal: str) -> Series:
        series = self._series[signal]
        return Series(
            np.asarray(series.timestamps_ms, dtype=np.int64),
            np.asarray(series.values, dtype=np.float64),
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._series)

    def __len__(self) -> int:
        return len(self._series)
