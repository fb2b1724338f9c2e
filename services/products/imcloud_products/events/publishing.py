"""Domain events of the products service as messages on its topic."""

from __future__ import annotations

from google.protobuf.message import Message

from imcloud.products.v1 import events_pb2
from imcloud_core.events import Topic, new_envelope
from imcloud_core.ids import utcnow
from imcloud_core.unit_of_work import OutboxEntry
from imcloud_products.api.convert import equipment_message, equipment_model_message
from imcloud_products.domain import events

SOURCE = "products"


def _entry(*, tenant_id: str, key: str, event_type: str, payload: Message) -> OutboxEntry:
    envelope = new_envelope(
        tenant_id=tenant_id,
        event_type=event_type,
        payload=payload,
        source=SOURCE,
        occurred_at=utcnow(),
    )
    return OutboxEntry(Topic.PRODUCTS_EVENTS, key, envelope)


def to_outbox_entry(event: object) -> OutboxEntry:
    match event:
        case events.EquipmentModelCreated(equipment_model=model):
            payload: Message = events_pb2.EquipmentModelCreated(
                equipment_model=equipment_model_message(model)
            )
            return _entry(
                tenant_id=model.tenant_id,
                key=model.id,
                event_type="equipment_model.created",
                payload=payload,
            )
        case events.EquipmentModelUpdated(equipment_model=model):
            payload = events_pb2.EquipmentModelUpdated(
                equipment_model=equipment_model_message(model)
            )
            return _entry(
                tenant_id=model.tenant_id,
                key=model.id,
                event_type="equipment_model.updated",
                payload=payload,
            )
        case events.EquipmentModelDeleted(equipment_model=model):
            payload = events_pb2.EquipmentModelDeleted(equipment_model_id=model.id)
            return _entry(
                tenant_id=model.tenant_id,
                key=model.id,
                event_type="equipment_model.deleted",
                payload=payload,
            )
        case events.EquipmentCreated(equipment=machine):
            payload = events_pb2.EquipmentCreated(equipment=equipment_message(machine))
            return _entry(
                tenant_id=machine.tenant_id,
                key=machine.id,
                event_type="equipment.created",
                payload=payload,
            )
        case events.EquipmentUpdated(equipment=machine):
            payload = events_pb2.EquipmentUpdated(equipment=equipment_message(machine))
            return _entry(
                tenant_id=machine.tenant_id,
                key=machine.id,
                event_type="equipment.updated",
                payload=payload,
            )
        case events.EquipmentDeleted(equipment=machine):
            payload = events_pb2.EquipmentDeleted(equipment_id=machine.id)
            return _entry(
                tenant_id=machine.tenant_id,
                key=machine.id,
                event_type="equipment.deleted",
                payload=payload,
            )
    raise TypeError(f"no message for domain event {type(event).__name__}")
