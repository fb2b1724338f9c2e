"""Domain events of the servitization service as messages on its topic."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf.message import Message

from imcloud.servitization.v1 import (
    alarms_pb2,
    commands_pb2,
    customization_pb2,
    events_pb2,
    jobs_pb2,
    maintenance_pb2,
)
from imcloud_core.events import Topic, new_envelope
from imcloud_core.unit_of_work import OutboxEntry
from imcloud_servitization.convert import (
    alarm_message,
    bom_messages,
    change_message,
    command_message,
    job_message,
    order_message,
    routing_messages,
    ticket_message,
)
from imcloud_servitization.domain.alarms import AlarmChanged
from imcloud_servitization.domain.customization import OrderCancelled, OrderPlaced
from imcloud_servitization.domain.events import (
    CommandCancelled,
    CommandRequested,
    CommandStateChanged,
    MaintenanceTicketChanged,
    MaintenanceTicketEscalated,
    MaintenanceTicketOpened,
)
from imcloud_servitization.domain.jobs import FleetJobCreated, FleetJobEnded
from imcloud_servitization.domain.model import TicketChange, TicketState

SOURCE = "servitization"


def to_outbox_entry(event: Any) -> OutboxEntry:
    match event:
        case CommandRequested(command=command):
            return _entry(
                Topic.COMMANDS,
                command.tenant_id,
                command.equipment_id,
                "command.requested",
                commands_pb2.CommandRequested(command=command_message(command)),
                command.create_time,
            )
        case CommandCancelled(command=command):
            return _entry(
                Topic.COMMANDS,
                command.tenant_id,
                command.equipment_id,
                "command.cancelled",
                commands_pb2.CommandCancelled(
                    command_id=command.id, equipment_id=command.equipment_id
                ),
                command.update_time,
            )
        case CommandStateChanged(command=command):
            return _entry(
                Topic.SERVITIZATION_EVENTS,
                command.tenant_id,
                command.equipment_id,
                f"command.{command.state.value}",
                commands_pb2.CommandUpdated(command=command_message(command)),
                command.update_time,
            )
        case FleetJobCreated(job=job):
            return _entry(
                Topic.SERVITIZATION_EVENTS,
                job.tenant_id,
                job.id,
                "fleet_job.created",
                jobs_pb2.FleetJobCreated(job=job_message(job)),
                job.create_time,
            )
        case FleetJobEnded(job=job):
            return _entry(
                Topic.SERVITIZATION_EVENTS,
                job.tenant_id,
                job.id,
                f"fleet_job.{job.state.value}",
                jobs_pb2.FleetJobEnded(job=job_message(job)),
                job.update_time,
            )
        case MaintenanceTicketChanged(ticket=ticket, change=change):
            return _entry(
                Topic.MAINTENANCE,
                ticket.tenant_id,
                ticket.equipment_id,
                f"maintenance_ticket.{_changed_type(change)}",
                maintenance_pb2.MaintenanceTicketChanged(
                    ticket=ticket_message(ticket), change=change_message(change)
                ),
                change.change_time,
            )
        case MaintenanceTicketOpened(ticket=ticket) | MaintenanceTicketEscalated(ticket=ticket):
            event_type, message_type = TICKET_MESSAGES[type(event)]
            return _entry(
                Topic.MAINTENANCE,
                ticket.tenant_id,
                ticket.equipment_id,
                event_type,
                message_type(ticket=ticket_message(ticket)),
                # At the opening the same as create_time; at an escalation, its time.
                ticket.update_time,
            )
        case OrderPlaced(order=order, product_id=product_id, bom=bom, routing=routing):
            return _entry(
                Topic.ORDERS,
                order.tenant_id,
                order.id,
                "order.placed",
                customization_pb2.OrderPlaced(
                    order=order_message(order),
                    product_id=product_id,
                    bom=bom_messages(bom),
                    routing=routing_messages(routing),
                ),
                order.create_time,
            )
        case OrderCancelled(order=order, reason=reason):
            return _entry(
                Topic.ORDERS,
                order.tenant_id,
                order.id,
                "order.cancelled",
                customization_pb2.OrderCancelled(order_id=order.id, reason=reason),
                order.stages[-1].time,
            )
        case AlarmChanged(alarm=alarm, change=change):
            return _entry(
                Topic.SERVITIZATION_EVENTS,
                alarm.tenant_id,
                alarm.equipment_id,
                f"alarm.{change}",
                alarms_pb2.AlarmChanged(alarm=alarm_message(alarm)),
                alarm.update_time,
            )
    raise TypeError(f"no message for domain event {type(event).__name__}")


def _changed_type(change: TicketChange) -> str:
    """booked, transitioned, note_added or updated: what a consumer filters on."""
    if change.field == "state":
        return "booked" if change.to_value == TicketState.SCHEDULED.value else "transitioned"
    return "note_added" if change.field == "note" else "updated"


TICKET_MESSAGES: dict[type, tuple[str, type[Message]]] = {
    MaintenanceTicketOpened: ("maintenance_ticket.opened", events_pb2.MaintenanceTicketOpened),
    MaintenanceTicketEscalated: (
        "maintenance_ticket.escalated",
        events_pb2.MaintenanceTicketEscalated,
    ),
}


def _entry(
    topic: Topic,
    tenant_id: str,
    key: str,
    event_type: str,
    payload: Message,
    occurred_at: datetime,
) -> OutboxEntry:
    """Every servitization event is keyed by what orders its news: its machine (a
    job's by the job, an order's by the order)."""
    envelope = new_envelope(
        tenant_id=tenant_id,
        event_type=event_type,
        payload=payload,
        source=SOURCE,
        occurred_at=occurred_at,
    )
    return OutboxEntry(topic, key, envelope)
