"""What the domain needs from storage, as protocols the store implements."""

from __future__ import annotations

from typing import Any, Protocol, Self

from imcloud_servitization.domain.model import MaintenanceTicket


class TicketRepository(Protocol):
    def add(self, ticket: MaintenanceTicket) -> None: ...

    def list(
        self, *, tenant_id: str, equipment_id: str, page_size: int, page_token: str
    ) -> tuple[list[MaintenanceTicket], str]: ...


class UnitOfWork(Protocol):
    tickets: TicketRepository

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def record(self, event: Any) -> None: ...
