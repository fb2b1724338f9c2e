"""Domain events of the production service as messages on its topic."""

from __future__ import annotations

from typing import Any

from imcloud.production.v1 import events_pb2
from imcloud_core.events import Topic, new_envelope
from imcloud_core.unit_of_work import OutboxEntry
from imcloud_production.api.convert import plant_message
from imcloud_production.domain.events import PlantCreated

SOURCE = "production"


def to_outbox_entry(event: Any) -> OutboxEntry:
    match event:
        case PlantCreated(plant=plant):
            envelope = new_envelope(
                tenant_id=plant.tenant_id,
                event_type="plant.created",
                payload=events_pb2.PlantCreated(plant=plant_message(plant)),
                source=SOURCE,
                occurred_at=plant.create_time,
            )
            return OutboxEntry(Topic.PRODUCTION_EVENTS, plant.id, envelope)
    raise TypeError(f"no message for domain event {type(event).__name__}")
