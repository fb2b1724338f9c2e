"""Domain objects to protobuf messages and back."""

from __future__ import annotations

import json

from imcloud.products.v1 import equipment_events_pb2
from imcloud.products.v1 import products_service_pb2 as pb
from imcloud_core.convert import timestamp, timestamp_ms
from imcloud_products.domain.desired import DesiredState, PropertyDelta
from imcloud_products.domain.model import (
    AnomalyEpisode,
    Equipment,
    EquipmentModel,
    SignalDefinition,
    SignalType,
)
from imcloud_products.domain.telemetry import Aggregates, SeriesPoints, TwinState

SIGNAL_TYPES = {
    SignalType.DOUBLE: pb.SIGNAL_TYPE_DOUBLE,
    SignalType.INTEGER: pb.SIGNAL_TYPE_INTEGER,
    SignalType.BOOLEAN: pb.SIGNAL_TYPE_BOOLEAN,
}
SIGNAL_TYPES_BY_MESSAGE = {number: kind for kind, number in SIGNAL_TYPES.items()}


def signal_definition(message: pb.SignalDefinition) -> SignalDefinition:
    return SignalDefinition(
        name=message.name,
        unit=message.unit,
        # Unspecified means the common case, a real-valued measurement.
        type=SIGNAL_TYPES_BY_MESSAGE.get(message.type, SignalType.DOUBLE),
        min_value=message.min_value if message.HasField("min_value") else None,
        max_value=message.max_value if message.HasField("max_value") else None,
        description=message.description,
    )


def signal_message(signal: SignalDefinition) -> pb.SignalDefinition:
    return pb.SignalDefinition(
        name=signal.name,
        unit=signal.unit,
        type=SIGNAL_TYPES[signal.type],
        min_value=signal.min_value,
        max_value=signal.max_value,
        description=signal.description,
    )


def equipment_model_message(model: EquipmentModel) -> pb.EquipmentModel:
    return pb.EquipmentModel(
        id=model.id,
        name=model.name,
        manufacturer=model.manufacturer,
        signals=[signal_message(s) for s in model.signals],
        create_time=timestamp(model.create_time),
        update_time=timestamp(model.update_time),
    )


def equipment_message(equipment: Equipment) -> pb.Equipment:
    return pb.Equipment(
        id=equipment.id,
        equipment_model_id=equipment.equipment_model_id,
        serial_number=equipment.serial_number,
        name=equipment.name,
        station_id=equipment.station_id,
        create_time=timestamp(equipment.create_time),
        update_time=timestamp(equipment.update_time),
    )


def twin_message(twin: TwinState) -> pb.Twin:
    message = pb.Twin(
        equipment_id=twin.equipment_id,
        connected=twin.connected,
        reported=[
            pb.ReportedSignal(
                signal=r.signal,
                value=r.value,
                time=timestamp_ms(r.ts_ms),
                out_of_range=r.out_of_range,
            )
            for r in twin.reported
        ],
        open_episodes=[episode_message(e) for e in twin.open_episodes],
        desired=desired_state_message(twin.desired),
        applied_version=twin.desired.applied_version,
        applied_detail=twin.desired.applied_detail,
        delta=[delta_message(d) for d in twin.delta],
    )
    if twin.last_seen_ms is not None:
        message.last_seen_time.CopyFrom(timestamp_ms(twin.last_seen_ms))
    if twin.health_score is not None:
        message.health_score = twin.health_score
    if twin.desired.applied_time is not None:
        message.applied_time.CopyFrom(timestamp(twin.desired.applied_time))
    return message


def desired_state_message(desired: DesiredState) -> pb.DesiredState:
    message = pb.DesiredState(
        properties_json=json.dumps(desired.properties),
        version=desired.version,
        update_actor=desired.update_actor,
    )
    if desired.update_time is not None:
        message.update_time.CopyFrom(timestamp(desired.update_time))
    return message


def delta_message(delta: PropertyDelta) -> pb.DesiredPropertyDelta:
    return pb.DesiredPropertyDelta(
        property=delta.name,
        desired_json=json.dumps(delta.desired),
        reported_json="" if delta.reported is None else json.dumps(delta.reported),
    )


def series_message(series: SeriesPoints) -> pb.StoredSeries:
    return pb.StoredSeries(
        signal=series.signal,
        timestamps_ms=series.timestamps_ms,
        values=series.values,
        flags=series.flags,
    )


def aggregates_message(aggregates: Aggregates) -> pb.SignalAggregates:
    return pb.SignalAggregates(
        signal=aggregates.signal,
        bucket_start_ms=aggregates.bucket_start_ms,
        min=aggregates.minimum,
        max=aggregates.maximum,
        mean=aggregates.mean,
        count=aggregates.count,
    )


EPISODE_KINDS = {
    "anomaly": equipment_events_pb2.EPISODE_KIND_ANOMALY,
    "data_quality": equipment_events_pb2.EPISODE_KIND_DATA_QUALITY,
}
EPISODE_KINDS_BY_MESSAGE = {number: kind for kind, number in EPISODE_KINDS.items()}
SEVERITIES = {
    "low": equipment_events_pb2.EPISODE_SEVERITY_LOW,
    "medium": equipment_events_pb2.EPISODE_SEVERITY_MEDIUM,
    "high": equipment_events_pb2.EPISODE_SEVERITY_HIGH,
}


def episode_message(episode: AnomalyEpisode) -> equipment_events_pb2.AnomalyEpisode:
    return equipment_events_pb2.AnomalyEpisode(
        id=episode.id,
        equipment_id=episode.equipment_id,
        kind=EPISODE_KINDS[episode.kind],
        start_time=timestamp_ms(episode.start_ms),
        end_time=timestamp_ms(episode.end_ms),
        peak_score=episode.peak_score,
        peak_time=timestamp_ms(episode.peak_ms),
        rows=episode.rows,
        severity=SEVERITIES[episode.severity],
        top_signals=episode.top_signals,
        quality_issues=episode.quality_issues,
        closed=episode.closed,
    )
