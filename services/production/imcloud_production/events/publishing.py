"""Domain events of the production service as messages on its topic."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from imcloud.production.v1 import events_pb2
from imcloud_core.events import Topic, new_envelope
from imcloud_core.unit_of_work import OutboxEntry
from imcloud_production.convert import resource_message
from imcloud_production.domain.events import Change, StructureChanged
from imcloud_production.domain.model import Line, Plant, Station, plant_id_of

SOURCE = "production"

# Each message has one field, named after the resource's kind ("plant", ...).
MESSAGES: dict[tuple[type, Change], type[Message]] = {
    (Plant, Change.CREATED): events_pb2.PlantCreated,
    (Plant, Change.UPDATED): events_pb2.PlantUpdated,
    (Plant, Change.DELETED): events_pb2.PlantDeleted,
    (Line, Change.CREATED): events_pb2.LineCreated,
    (Line, Change.UPDATED): events_pb2.LineUpdated,
    (Line, Change.DELETED): events_pb2.LineDeleted,
    (Station, Change.CREATED): events_pb2.StationCreated,
    (Station, Change.UPDATED): events_pb2.StationUpdated,
    (Station, Change.DELETED): events_pb2.StationDeleted,
}


def to_outbox_entry(event: Any) -> OutboxEntry:
    if not isinstance(event, StructureChanged):
        raise TypeError(f"no message for domain event {type(event).__name__}")
    resource = event.resource
    message_type = MESSAGES[type(resource), event.change]
    envelope = new_envelope(
        tenant_id=resource.tenant_id,
        event_type=f"{resource.KIND}.{event.change}",
        payload=message_type(**{resource.KIND: resource_message(resource)}),
        source=SOURCE,
        occurred_at=event.occurred_at,
    )
    # Keyed by plant, so one plant's structure changes stay in order.
    return OutboxEntry(Topic.PRODUCTION_EVENTS, plant_id_of(resource), envelope)
