"""Domain events of the servitization service as messages on its topic."""

from __future__ import annotations

from typing import Any

from imcloud.servitization.v1 import commands_pb2, events_pb2
from imcloud_core.events import Topic, new_envelope
from imcloud_core.unit_of_work import OutboxEntry
from imcloud_servitization.convert import command_message, ticket_message
from imcloud_servitization.domain.events import (
    CommandRequested,
    CommandStateChanged,
    MaintenanceTicketEscalated,
    MaintenanceTicketOpened,
)

SOURCE = "servitization"


def to_outbox_entry(event: Any) -> OutboxEntry:
    match event:
        case CommandRequested(command=command):
            envelope = new_envelope(
                tenant_id=command.tenant_id,
                event_type="command.requested",
                payload=commands_pb2.CommandRequested(command=command_message(command)),
                source=SOURCE,
                occurred_at=command.create_time,
            )
            return OutboxEntry(Topic.COMMANDS, command.equipment_id, envelope)
        case CommandStateChanged(command=command):
            envelope = new_envelope(
                tenant_id=command.tenant_id,
                event_type=f"command.{command.state.value}",
                payload=commands_pb2.CommandUpdated(command=command_message(command)),
                source=SOURCE,
                occurred_at=command.update_time,
            )
            return OutboxEntry(Topic.SERVITIZATION_EVENTS, command.equipment_id, envelope)
        case MaintenanceTicketOpened(ticket=ticket):
            envelope = new_envelope(
                tenant_id=ticket.tenant_id,
                event_type="maintenance_ticket.opened",
                payload=events_pb2.MaintenanceTicketOpened(ticket=ticket_message(ticket)),
                source=SOURCE,
                occurred_at=ticket.create_time,
            )
            return OutboxEntry(Topic.SERVITIZATION_EVENTS, ticket.equipment_id, envelope)
        case MaintenanceTicketEscalated(ticket=ticket):
            envelope = new_envelope(
                tenant_id=ticket.tenant_id,
                event_type="maintenance_ticket.escalated",
                payload=events_pb2.MaintenanceTicketEscalated(ticket=ticket_message(ticket)),
                source=SOURCE,
                occurred_at=ticket.update_time,
            )
            return OutboxEntry(Topic.SERVITIZATION_EVENTS, ticket.equipment_id, envelope)
    raise TypeError(f"no message for domain event {type(event).__name__}")
