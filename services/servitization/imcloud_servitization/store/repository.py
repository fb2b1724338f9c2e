"""SQL implementations of the domain's ports; every query filters by tenant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Row
from sqlalchemy.orm import Session

from imcloud_core.store import TenantTable
from imcloud_core.unit_of_work import SqlUnitOfWork
from imcloud_servitization.domain.model import MaintenanceTicket, TicketPriority, TicketState
from imcloud_servitization.store.tables import maintenance_tickets


def _ticket(row: Row[Any]) -> MaintenanceTicket:
    values = row._asdict()
    values["priority"] = TicketPriority(values["priority"])
    values["state"] = TicketState(values["state"])
    return MaintenanceTicket(**values)


class SqlTicketRepository:
    table = TenantTable(maintenance_tickets)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, ticket: MaintenanceTicket) -> None:
        self.table.insert(self._session, ticket.__dict__)

    def opened_for_episode(self, *, tenant_id: str, episode_id: str) -> bool:
        return self.table.exists(
            self._session, tenant_id, maintenance_tickets.c.source_episode_id == episode_id
        )

    def list(
        self, *, tenant_id: str, equipment_id: str, page_size: int, page_token: str
    ) -> tuple[list[MaintenanceTicket], str]:
        conditions: list[ColumnElement[bool]] = []
        if equipment_id:
            conditions.append(maintenance_tickets.c.equipment_id == equipment_id)
        rows, token = self.table.page(
            self._session, tenant_id, *conditions, page_size=page_size, page_token=page_token
        )
        return [_ticket(r) for r in rows], token


class ServitizationUnitOfWork(SqlUnitOfWork):
    tickets: SqlTicketRepository

    def __enter__(self) -> ServitizationUnitOfWork:
        super().__enter__()
        self.tickets = SqlTicketRepository(self.session)
        return self
