"""SQL implementations of the domain's ports; every query filters by tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.orm import Session

from imcloud_core.store import TenantTable
from imcloud_core.unit_of_work import SqlUnitOfWork
from imcloud_servitization.domain.model import (
    WAITING,
    CommandState,
    MaintenanceTicket,
    RemoteCommand,
    TicketPriority,
    TicketState,
)
from imcloud_servitization.store.tables import maintenance_tickets, remote_commands


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

    def for_episode(self, *, tenant_id: str, episode_id: str) -> MaintenanceTicket | None:
        row = self._session.execute(
            self.table.select(tenant_id, maintenance_tickets.c.source_episode_id == episode_id)
        ).first()
        return _ticket(row) if row else None

    def save(self, ticket: MaintenanceTicket) -> None:
        self.table.update(
            self._session,
            ticket.tenant_id,
            ticket.id,
            {
                "priority": ticket.priority.value,
                "state": ticket.state.value,
                "update_time": ticket.update_time,
            },
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


def _command(row: Row[Any]) -> RemoteCommand:
    values = row._asdict()
    return RemoteCommand(**{**values, "state": CommandState(values["state"])})


class SqlCommandRepository:
    table = TenantTable(remote_commands)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, command: RemoteCommand) -> None:
        self.table.insert(self._session, {**command.__dict__, "state": command.state.value})

    def get(self, *, tenant_id: str, command_id: str) -> RemoteCommand | None:
        row = self.table.get(self._session, tenant_id, command_id)
        return _command(row) if row else None

    def save(self, command: RemoteCommand) -> None:
        self.table.update(
            self._session,
            command.tenant_id,
            command.id,
            {
                "state": command.state.value,
                "detail": command.detail,
                "update_time": command.update_time,
            },
        )

    def overdue(self, *, now: datetime) -> list[RemoteCommand]:
        c = remote_commands.c
        rows = self._session.execute(
            select(remote_commands)
            .where(c.state.in_([state.value for state in WAITING]), c.expire_time < now)
            .with_for_update(skip_locked=True)
        ).all()
        return [_command(r) for r in rows]

    def list(
        self,
        *,
        tenant_id: str,
        equipment_id: str,
        states: list[CommandState],
        page_size: int,
        page_token: str,
    ) -> tuple[list[RemoteCommand], str]:
        c = remote_commands.c
        conditions: list[ColumnElement[bool]] = [c.equipment_id == equipment_id]
        if states:
            conditions.append(c.state.in_([s.value for s in states]))
        rows, token = self.table.page(
            self._session,
            tenant_id,
            *conditions,
            page_size=page_size,
            page_token=page_token,
            newest_first=True,
        )
        return [_command(r) for r in rows], token


class ServitizationUnitOfWork(SqlUnitOfWork):
    tickets: SqlTicketRepository
    commands: SqlCommandRepository

    def __enter__(self) -> ServitizationUnitOfWork:
        super().__enter__()
        self.tickets = SqlTicketRepository(self.session)
        self.commands = SqlCommandRepository(self.session)
        return self
