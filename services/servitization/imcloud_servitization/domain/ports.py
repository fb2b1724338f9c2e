"""What the domain needs from storage, as protocols the store implements."""

from __future__ import annotations

from typing import Protocol

from imcloud_core.ports import Transaction
from imcloud_servitization.domain.model import MaintenanceTicket


class TicketRepository(Protocol):
    def add(self, ticket: MaintenanceTicket) -> None: ...

    def opened_for_episode(self, *, tenant_id: str, episode_id: str) -> bool: ...

    def list(
        self, *, tenant_id: str, equipment_id: str, page_size: int, page_token: str
    ) -> tuple[list[MaintenanceTicket], str]: ...


class UnitOfWork(Transaction, Protocol):
    @property
    def tickets(self) -> TicketRepository: ...
