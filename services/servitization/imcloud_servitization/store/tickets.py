"""Maintenance tickets, their notes and their history in SQL; every query filters by tenant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Row
from sqlalchemy.orm import Session

from imcloud_core.store import TenantTable
from imcloud_servitization.domain.model import (
    MaintenanceBooking,
    MaintenanceTicket,
    TicketChange,
    TicketNote,
    TicketPriority,
    TicketState,
)
from imcloud_servitization.store.tables import (
    maintenance_ticket_changes,
    maintenance_ticket_notes,
    maintenance_tickets,
)

BOOKING_COLUMNS = {
    "planned_downtime_id": "booking_downtime_id",
    "plant_id": "booking_plant_id",
    "station_id": "booking_station_id",
    "start_time": "booking_start_time",
    "end_time": "booking_end_time",
}


def _ticket(row: Row[Any]) -> MaintenanceTicket:
    values = row._asdict()
    booked = {field: values.pop(column) for field, column in BOOKING_COLUMNS.items()}
    return MaintenanceTicket(
        **{
            **values,
            "priority": TicketPriority(values["priority"]),
            "state": TicketState(values["state"]),
            "booking": MaintenanceBooking(**booked) if booked["planned_downtime_id"] else None,
        }
    )


def _row(ticket: MaintenanceTicket) -> dict[str, Any]:
    values = {**ticket.__dict__, "priority": ticket.priority.value, "state": ticket.state.value}
    booking = values.pop("booking")
    for field, column in BOOKING_COLUMNS.items():
        values[column] = getattr(booking, field) if booking else None
    return values


class SqlTicketRepository:
    table = TenantTable(maintenance_tickets)
    notes_table = TenantTable(maintenance_ticket_notes)
    changes_table = TenantTable(maintenance_ticket_changes)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, ticket: MaintenanceTicket) -> None:
        self.table.insert(self._session, _row(ticket))

    def get(
        self, *, tenant_id: str, ticket_id: str, for_update: bool = False
    ) -> MaintenanceTicket | None:
        query = self.table.select(tenant_id, maintenance_tickets.c.id == ticket_id)
        if for_update:
            # Two changes of one ticket at once: the second reads the first's result.
            query = query.with_for_update()
        row = self._session.execute(query).first()
        return _ticket(row) if row else None

    def for_episode(self, *, tenant_id: str, episode_id: str) -> MaintenanceTicket | None:
        row = self._session.execute(
            self.table.select(tenant_id, maintenance_tickets.c.source_episode_id == episode_id)
        ).first()
        return _ticket(row) if row else None

    def save(self, ticket: MaintenanceTicket) -> None:
        values = _row(ticket)
        for fixed in ("id", "tenant_id", "equipment_id", "create_time", "source_episode_id"):
            del values[fixed]
        self.table.update(self._session, ticket.tenant_id, ticket.id, values)

    def add_note(self, note: TicketNote) -> None:
        self.notes_table.insert(self._session, note.__dict__)

    def notes(self, *, tenant_id: str, ticket_id: str) -> list[TicketNote]:
        c = maintenance_ticket_notes.c
        rows = self._session.execute(
            self.notes_table.select(tenant_id, c.ticket_id == ticket_id).order_by(
                c.create_time, c.id
            )
        ).all()
        return [TicketNote(**row._asdict()) for row in rows]

    def add_change(self, change: TicketChange) -> None:
        values = {**change.__dict__}
        values["create_time"] = values.pop("change_time")
        self.changes_table.insert(self._session, values)

    def history(
        self, *, tenant_id: str, ticket_id: str, page_size: int, page_token: str
    ) -> tuple[list[TicketChange], str]:
        rows, token = self.changes_table.page(
            self._session,
            tenant_id,
            maintenance_ticket_changes.c.ticket_id == ticket_id,
            page_size=page_size,
            page_token=page_token,
        )
        changes = []
        for row in rows:
            values = row._asdict()
            values["change_time"] = values.pop("create_time")
            changes.append(TicketChange(**values))
        return changes, token

    def list(
        self,
        *,
        tenant_id: str,
        equipment_id: str,
        states: list[TicketState],
        page_size: int,
        page_token: str,
    ) -> tuple[list[MaintenanceTicket], str]:
        c = maintenance_tickets.c
        conditions: list[ColumnElement[bool]] = []
        if equipment_id:
            conditions.append(c.equipment_id == equipment_id)
        if states:
            conditions.append(c.state.in_([state.value for state in states]))
        rows, token = self.table.page(
            self._session, tenant_id, *conditions, page_size=page_size, page_token=page_token
        )
        return [_ticket(r) for r in rows], token
