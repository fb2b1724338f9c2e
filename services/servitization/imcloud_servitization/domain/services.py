"""Use cases of the servitization service; every one is scoped to a tenant."""

from __future__ import annotations

from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_servitization.domain.events import MaintenanceTicketOpened
from imcloud_servitization.domain.model import (
    MaintenanceTicket,
    TicketPriority,
    TicketState,
    check_ticket_fields,
)
from imcloud_servitization.domain.ports import UnitOfWork


def open_maintenance_ticket(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    equipment_id: str,
    title: str,
    description: str,
    priority: TicketPriority,
) -> MaintenanceTicket:
    check_ticket_fields(equipment_id=equipment_id, title=title, description=description)
    now = utcnow()
    ticket = MaintenanceTicket(
        id=new_id(),
        tenant_id=tenant_id,
        equipment_id=equipment_id,
        title=title.strip(),
        description=description,
        priority=priority,
        state=TicketState.OPEN,
        create_time=now,
        update_time=now,
    )
    with uow:
        uow.tickets.add(ticket)
        uow.record(MaintenanceTicketOpened(ticket))
    return ticket


def list_maintenance_tickets(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    equipment_id: str,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[MaintenanceTicket], str]:
    size = page_size(requested_page_size)
    with uow:
        return uow.tickets.list(
            tenant_id=tenant_id, equipment_id=equipment_id, page_size=size, page_token=page_token
        )
