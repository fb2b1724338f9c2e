"""What the domain needs from storage, as protocols the store implements."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from imcloud_core.ports import Transaction
from imcloud_servitization.domain.model import CommandState, MaintenanceTicket, RemoteCommand


class TicketRepository(Protocol):
    def add(self, ticket: MaintenanceTicket) -> None: ...

    def for_episode(self, *, tenant_id: str, episode_id: str) -> MaintenanceTicket | None: ...

    def save(self, ticket: MaintenanceTicket) -> None: ...

    def list(
        self, *, tenant_id: str, equipment_id: str, page_size: int, page_token: str
    ) -> tuple[list[MaintenanceTicket], str]: ...


class CommandRepository(Protocol):
    def add(self, command: RemoteCommand) -> None: ...

    def get(self, *, tenant_id: str, command_id: str) -> RemoteCommand | None: ...

    def save(self, command: RemoteCommand) -> None: ...

    def overdue(self, *, now: datetime) -> list[RemoteCommand]:
        """Commands of every tenant still waiting past their expiry."""

    def list(
        self,
        *,
        tenant_id: str,
        equipment_id: str,
        states: list[CommandState],
        page_size: int,
        page_token: str,
    ) -> tuple[list[RemoteCommand], str]: ...


class UnitOfWork(Transaction, Protocol):
    @property
    def tickets(self) -> TicketRepository: ...

    @property
    def commands(self) -> CommandRepository: ...
