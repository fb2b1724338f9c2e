"""Facts the servitization domain records; the events layer turns them into messages."""

from __future__ import annotations

from dataclasses import dataclass

from imcloud_servitization.domain.model import MaintenanceTicket, RemoteCommand, TicketChange


@dataclass(frozen=True)
class MaintenanceTicketOpened:
    ticket: MaintenanceTicket


@dataclass(frozen=True)
class MaintenanceTicketEscalated:
    ticket: MaintenanceTicket


@dataclass(frozen=True)
class MaintenanceTicketChanged:
    """Any other change of a ticket: a transition, a booking, a note, an update."""

    ticket: MaintenanceTicket
    change: TicketChange


@dataclass(frozen=True)
class CommandRequested:
    command: RemoteCommand


@dataclass(frozen=True)
class CommandStateChanged:
    command: RemoteCommand


@dataclass(frozen=True)
class CommandCancelled:
    """Tells the machine's device link, so a machine that has not started it drops it."""

    command: RemoteCommand
