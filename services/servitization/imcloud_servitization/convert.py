"""Domain objects to protobuf messages and back."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct

from imcloud.servitization.v1 import commands_pb2
from imcloud.servitization.v1 import servitization_service_pb2 as pb
from imcloud_core.convert import timestamp
from imcloud_servitization.domain.model import (
    CommandState,
    MaintenanceTicket,
    RemoteCommand,
    TicketPriority,
    TicketState,
)

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


COMMAND_STATES = {
    CommandState.PENDING: commands_pb2.COMMAND_STATE_PENDING,
    CommandState.DELIVERED: commands_pb2.COMMAND_STATE_DELIVERED,
    CommandState.SUCCEEDED: commands_pb2.COMMAND_STATE_SUCCEEDED,
    CommandState.FAILED: commands_pb2.COMMAND_STATE_FAILED,
    CommandState.REJECTED: commands_pb2.COMMAND_STATE_REJECTED,
    CommandState.EXPIRED: commands_pb2.COMMAND_STATE_EXPIRED,
}
COMMAND_STATES_BY_MESSAGE = {number: state for state, number in COMMAND_STATES.items()}


def command_message(command: RemoteCommand) -> commands_pb2.RemoteCommand:
    return commands_pb2.RemoteCommand(
        id=command.id,
        equipment_id=command.equipment_id,
        name=command.name,
        state=COMMAND_STATES[command.state],
        detail=command.detail,
        requested_by=command.requested_by,
        create_time=timestamp(command.create_time),
        update_time=timestamp(command.update_time),
        expire_time=timestamp(command.expire_time),
        parameters_json=json.dumps(command.parameters),
    )


# Beyond this a double no longer holds every integer, so it was not sent as one.
EXACT_INTEGERS = 2**53


def parameters_from(struct: Struct) -> dict[str, Any]:
    """A Struct's numbers are all doubles: whole ones become integers again, as the
    caller sent them through the REST API (JSON tells 3 from 3.0 only by spelling)."""
    return {key: _whole(value) for key, value in MessageToDict(struct).items()}


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= EXACT_INTEGERS:
        return int(value)
    if isinstance(value, dict):
        return {key: _whole(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole(item) for item in value]
    return value
