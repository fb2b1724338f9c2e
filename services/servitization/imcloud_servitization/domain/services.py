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


def open_ticket_for_anomaly(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    equipment_id: str,
    episode_id: str,
    severity: str,
    top_signals: list[str],
) -> MaintenanceTicket | None:
    """Predictive maintenance: a serious anomaly opens a ticket, once per episode.

    Low-severity episodes are left to the dashboards; a redelivered event finds
    its ticket already there and opens nothing.
    """
    if severity not in PRIORITY_BY_SEVERITY:
        return None
    explanation = ", ".join(top_signals) or "no single signal stands out"
    now = utcnow()
    ticket = MaintenanceTicket(
        id=new_id(),
        tenant_id=tenant_id,
        equipment_id=equipment_id,
        title=f"Anomaly ({severity}) detected on the machine",
        description=f"Opened from anomaly episode {episode_id}. Signals most involved: "
        f"{explanation}.",
        priority=PRIORITY_BY_SEVERITY[severity],
        state=TicketState.OPEN,
        create_time=now,
        update_time=now,
        source_episode_id=episode_id,
    )
    with uow:
        if uow.tickets.opened_for_episode(tenant_id=tenant_id, episode_id=episode_id):
            return None
        uow.tickets.add(ticket)
        uow.record(MaintenanceTicketOpened(ticket))
    return ticket


PRIORITY_BY_SEVERITY = {"medium": TicketPriority.MEDIUM, "high": TicketPriority.HIGH}
