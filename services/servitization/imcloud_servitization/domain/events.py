"""Facts the servitization domain records; the events layer turns them into messages."""

from __future__ import annotations

from dataclasses import dataclass

from imcloud_servitization.domain.model import MaintenanceTicket, RemoteCommand


@dataclass(frozen=True)
class MaintenanceTicketOpened:
    ticket: MaintenanceTicket


@dataclass(frozen=True)
class MaintenanceTicketEscalated:
    ticket: MaintenanceTicket


@dataclass(frozen=True)
class CommandRequested:
    command: RemoteCommand


@dataclass(frozen=True)
class CommandStateChanged:
    command: RemoteCommand
