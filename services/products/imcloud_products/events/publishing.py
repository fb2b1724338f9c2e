"""Domain events of the products service as messages on its topics."""

from __future__ import annotations

from typing import Any

from imcloud.products.v1 import events_pb2
from imcloud_core.events import Topic, new_envelope
from imcloud_core.unit_of_work import OutboxEntry
from imcloud_products.api.convert import equipment_model_message
from imcloud_products.domain.events import EquipmentModelCreated

SOURCE = "products"


def to_outbox_entry(event: Any) -> OutboxEntry:
    match event:
        case EquipmentModelCreated(equipment_model=model):
            envelope = new_envelope(
                tenant_id=model.tenant_id,
                event_type="equipment_model.created",
                payload=events_pb2.EquipmentModelCreated(
                    equipment_model=equipment_model_message(model)
                ),
                source=SOURCE,
                occurred_at=model.create_time,
            )
            return OutboxEntry(Topic.PRODUCTS_EVENTS, model.id, envelope)
    raise TypeError(f"no message for domain event {type(event).__name__}")
