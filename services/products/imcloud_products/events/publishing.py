"""Domain events of the products service as messages on its topics.

Changes to equipment models and machines go on the products topic; what the
telemetry says about a machine (episodes, connectivity) on the equipment topic,
under natural event ids, so a transaction retried after a crash stages nothing twice.
"""

from __future__ import annotations

from google.protobuf.message import Message
from prometheus_client import Counter

from imcloud.products.v1 import equipment_events_pb2, events_pb2
from imcloud_core.convert import timestamp_ms
from imcloud_core.events import Topic, new_envelope
from imcloud_core.unit_of_work import OutboxEntry
from imcloud_products.convert import (
    desired_state_message,
    episode_message,
    equipment_message,
    equipment_model_message,
)
from imcloud_products.domain import events
from imcloud_products.domain.model import AnomalyEpisode, Equipment, EquipmentModel

SOURCE = "products"
EPISODES = Counter(
    "imcloud_anomaly_episodes_total", "Anomaly and data-quality episodes", ["kind", "event"]
)
DESIRED_STATES = Counter(
    "imcloud_products_desired_state_events_total",
    "Desired states changed by people and applied by machines",
    ["event"],
)


def to_outbox_entry(event: object) -> OutboxEntry:
    match event:
        case events.EpisodeOpened(episode=episode):
            return _episode_entry(episode, "opened", equipment_events_pb2.AnomalyEpisodeOpened)
        case events.EpisodeEscalated(episode=episode):
            return _episode_entry(
                episode, "escalated", equipment_events_pb2.AnomalyEpisodeEscalated
            )
        case events.EpisodeClosed(episode=episode):
            return _episode_entry(episode, "closed", equipment_events_pb2.AnomalyEpisodeClosed)
        case events.ConnectivityChanged():
            return _connectivity_entry(event)
        case events.DesiredStateChanged() | events.DesiredStateApplied():
            return _desired_state_entry(event)
    return _products_entry(event)


def _desired_state_entry(
    event: events.DesiredStateChanged | events.DesiredStateApplied,
) -> OutboxEntry:
    desired = event.desired
    payload: Message
    if isinstance(event, events.DesiredStateChanged):
        event_type, number = "desired_state.changed", desired.version
        payload = events_pb2.DesiredStateChanged(
            equipment_id=desired.equipment_id, desired=desired_state_message(desired)
        )
    else:
        event_type, number = "desired_state.applied", desired.applied_version
        payload = events_pb2.DesiredStateApplied(
            equipment_id=desired.equipment_id,
            applied_version=desired.applied_version,
            detail=desired.applied_detail,
        )
    DESIRED_STATES.labels(event_type.removeprefix("desired_state.")).inc()
    envelope = new_envelope(
        tenant_id=desired.tenant_id,
        event_type=event_type,
        payload=payload,
        source=SOURCE,
        # Each version changes, and is applied, once: the version names the event.
        event_id=f"{desired.equipment_id}/{event_type}/{number}",
    )
    return OutboxEntry(Topic.PRODUCTS_EVENTS, desired.equipment_id, envelope)


def _products_entry(event: object) -> OutboxEntry:
    subject: EquipmentModel | Equipment
    payload: Message
    match event:
        case events.EquipmentModelCreated(equipment_model=subject):
            event_type = "equipment_model.created"
            payload = events_pb2.EquipmentModelCreated(
                equipment_model=equipment_model_message(subject)
            )
        case events.EquipmentModelUpdated(equipment_model=subject):
            event_type = "equipment_model.updated"
            payload = events_pb2.EquipmentModelUpdated(
                equipment_model=equipment_model_message(subject)
            )
        case events.EquipmentModelDeleted(equipment_model=subject):
            event_type = "equipment_model.deleted"
            payload = events_pb2.EquipmentModelDeleted(equipment_model_id=subject.id)
        case events.EquipmentCreated(equipment=subject):
            event_type = "equipment.created"
            payload = events_pb2.EquipmentCreated(equipment=equipment_message(subject))
        case events.EquipmentUpdated(equipment=subject):
            event_type = "equipment.updated"
            payload = events_pb2.EquipmentUpdated(equipment=equipment_message(subject))
        case events.EquipmentDeleted(equipment=subject):
            event_type = "equipment.deleted"
            payload = events_pb2.EquipmentDeleted(equipment_id=subject.id)
        case _:
            raise TypeError(f"no message for domain event {type(event).__name__}")
    envelope = new_envelope(
        tenant_id=subject.tenant_id, event_type=event_type, payload=payload, source=SOURCE
    )
    return OutboxEntry(Topic.PRODUCTS_EVENTS, subject.id, envelope)


EpisodeNews = (
    equipment_events_pb2.AnomalyEpisodeOpened
    | equipment_events_pb2.AnomalyEpisodeEscalated
    | equipment_events_pb2.AnomalyEpisodeClosed
)


def _episode_entry(episode: AnomalyEpisode, change: str, news: type[EpisodeNews]) -> OutboxEntry:
    EPISODES.labels(episode.kind, change).inc()
    event_id = f"{episode.id}/{change}"
    if change == "escalated":
        # An episode rises to each severity at most once: the severity names the rise.
        event_id += f"/{episode.severity}"
    return _equipment_entry(
        episode.tenant_id,
        episode.equipment_id,
        f"anomaly_episode.{change}",
        news(episode=episode_message(episode)),
        event_id=event_id,
    )


def _connectivity_entry(change: events.ConnectivityChanged) -> OutboxEntry:
    payload: Message
    if change.offline:
        payload = equipment_events_pb2.EquipmentWentOffline(
            equipment_id=change.equipment_id, last_seen_time=timestamp_ms(change.last_seen_ms)
        )
    else:
        payload = equipment_events_pb2.EquipmentCameOnline(
            equipment_id=change.equipment_id, time=timestamp_ms(change.at_ms)
        )
    state = "offline" if change.offline else "online"
    return _equipment_entry(
        change.tenant_id,
        change.equipment_id,
        f"equipment.{state}",
        payload,
        event_id=f"{change.equipment_id}/{state}/{change.at_ms}",
    )


def _equipment_entry(
    tenant_id: str, equipment_id: str, event_type: str, payload: Message, *, event_id: str
) -> OutboxEntry:
    envelope = new_envelope(
        tenant_id=tenant_id,
        event_type=event_type,
        payload=payload,
        source=SOURCE,
        event_id=event_id,
    )
    return OutboxEntry(Topic.EQUIPMENT_EVENTS, equipment_id, envelope)
