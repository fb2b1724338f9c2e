"""Domain objects to protobuf messages and back."""

from __future__ import annotations

from imcloud.servitization.v1 import servitization_service_pb2 as pb
from imcloud_core.convert import timestamp
from imcloud_servitization.domain.model import MaintenanceTicket, TicketPriority, TicketState

PRIORITIES = {
    TicketPriority.LOW: pb.TICKET_PRIORITY_LOW,
    TicketPriority.MEDIUM: pb.TICKET_PRIORITY_MEDIUM,
    TicketPriority.HIGH: pb.TICKET_PRIORITY_HIGH,
    TicketPriority.CRITICAL: pb.TICKET_PRIORITY_CRITICAL,
}
PRIORITIES_BY_MESSAGE: dict[int, TicketPriority] = {
    number: priority for priority, number in PRIORITIES.items()
}
STATES = {
    TicketState.OPEN: pb.TICKET_STATE_OPEN,
    TicketState.IN_PROGRESS: pb.TICKET_STATE_IN_PROGRESS,
    TicketState.RESOLVED: pb.TICKET_STATE_RESOLVED,
}


def priority(message_value: int) -> TicketPriority:
    # Unspecified means the everyday case.
    return PRIORITIES_BY_MESSAGE.get(message_value, TicketPriority.MEDIUM)


def ticket_message(ticket: MaintenanceTicket) -> pb.MaintenanceTicket:
    return pb.MaintenanceTicket(
        id=ticket.id,
        equipment_id=ticket.equipment_id,
        title=ticket.title,
        description=ticket.description,
        priority=PRIORITIES[ticket.priority],
        state=STATES[ticket.state],
        create_time=timestamp(ticket.create_time),
        update_time=timestamp(ticket.update_time),
        source_episode_id=ticket.source_episode_id,
    )
