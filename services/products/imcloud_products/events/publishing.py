"""Domain events of the products service as messages on its topic."""

from __future__ import annotations

from google.protobuf.message import Message

from imcloud.products.v1 import events_pb2
from imcloud_core.events import Topic, new_envelope
from imcloud_core.unit_of_work import OutboxEntry
from imcloud_products.convert import equipment_message, equipment_model_message
from imcloud_products.domain import events
from imcloud_products.domain.model import Equipment, EquipmentModel

SOURCE = "products"


def to_outbox_entry(event: object) -> OutboxEntry:
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
