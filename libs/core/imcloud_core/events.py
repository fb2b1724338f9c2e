"""Event envelopes and the topics imcloud publishes on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from google.protobuf.message import Message

from imcloud.common.v1.events_pb2 import EventEnvelope


class Topic(StrEnum):
    TELEMETRY = "imcloud.telemetry.v1"
    EQUIPMENT_EVENTS = "imcloud.equipment-events.v1"
    COMMANDS = "imcloud.commands.v1"
    COMMAND_RESULTS = "imcloud.command-results.v1"
    ORDERS = "imcloud.orders.v1"
    PRODUCTION_EVENTS = "imcloud.production-events.v1"
    PRODUCTS_EVENTS = "imcloud.products-events.v1"
    SERVITIZATION_EVENTS = "imcloud.servitization-events.v1"
    TENANT_EVENTS = "imcloud.tenant-events.v1"
    MAINTENANCE = "imcloud.maintenance.v1"


MessageT = TypeVar("MessageT", bound=Message)


def new_envelope(
    *,
    tenant_id: str,
    event_type: str,
    payload: Message,
    source: str,
    occurred_at: datetime | None = None,
    trace_id: str = "",
    event_id: str | None = None,
) -> EventEnvelope:
    envelope = EventEnvelope(
        event_id=event_id or str(uuid.uuid4()),
        tenant_id=tenant_id,
        type=event_type,
        source=source,
        trace_id=trace_id,
    )
    envelope.occurred_at.FromDatetime(occurred_at or datetime.now(UTC))
    envelope.payload.Pack(payload)
    return envelope


def parse_envelope(value: bytes) -> EventEnvelope:
    envelope = EventEnvelope()
    envelope.ParseFromString(value)
    return envelope


def unpack(envelope: EventEnvelope, message_type: type[MessageT]) -> MessageT | None:
    """The payload as ``message_type``, or None when the envelope holds another type."""
    message = message_type()
    return message if envelope.payload.Unpack(message) else None
