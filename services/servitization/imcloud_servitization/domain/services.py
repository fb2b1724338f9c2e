"""Use cases of the servitization service; every one is scoped to a tenant."""

from __future__ import annotations

import dataclasses

from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_servitization.domain.events import (
    MaintenanceTicketEscalated,
    MaintenanceTicketOpened,
)
from imcloud_servitization.domain.maintenance import PLATFORM, record_change
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
    actor: str,
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
        record_change(uow, ticket, actor, "opened", "", ticket.state.value, at=now, publish=False)
        uow.record(MaintenanceTicketOpened(ticket))
    return ticket


def list_maintenance_tickets(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    equipment_id: str,
    requested_page_size: int,
    page_token: str,
    states: list[TicketState] | None = None,
) -> tuple[list[MaintenanceTicket], str]:
    size = page_size(requested_page_size)
    with uow:
        return uow.tickets.list(
            tenant_id=tenant_id,
            equipment_id=equipment_id,
            states=states or [],
            page_size=size,
            page_token=page_token,
        )


def ticket_for_anomaly(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    equipment_id: str,
    episode_id: str,
    severity: str,
    top_signals: list[str],
) -> MaintenanceTicket | None:
    """Predictive maintenance: a serious anomaly has one ticket, as urgent as the
    episode has become. Returns the ticket opened or escalated, None if none changed.

    Low-severity episodes are left to the dashboards until they escalate; news of
    an episode that changes nothing (a redelivery, a lower or equal severity, its
    close) leaves the ticket as it is.
    """
    priority = PRIORITY_BY_SEVERITY.get(severity)
    if priority is None:
        return None
    now = utcnow()
    with uow:
        existing = uow.tickets.for_episode(tenant_id=tenant_id, episode_id=episode_id)
        if existing is None:
            explanation = ", ".join(top_signals) or "no single signal stands out"
            ticket = MaintenanceTicket(
                id=new_id(),
                tenant_id=tenant_id,
                equipment_id=equipment_id,
                title=f"Anomaly ({severity}) detected on the machine",
                description=f"Opened from anomaly episode {episode_id}. Signals most involved: "
                f"{explanation}.",
                priority=priority,
                state=TicketState.OPEN,
                create_time=now,
                update_time=now,
                source_episode_id=episode_id,
            )
            uow.tickets.add(ticket)
            record_change(
                uow,
                ticket,
                PLATFORM,
                "opened",
                "",
                ticket.state.value,
                at=now,
                detail=f"anomaly episode {episode_id} ({severity})",
                publish=False,
            )
            uow.record(MaintenanceTicketOpened(ticket))
            return ticket
        if PRIORITY_ORDER.index(priority) <= PRIORITY_ORDER.index(existing.priority):
            return None
        escalated = dataclasses.replace(existing, priority=priority, update_time=now)
        uow.tickets.save(escalated)
        record_change(
            uow,
            escalated,
            PLATFORM,
            "priority",
            existing.priority.value,
            priority.value,
            at=now,
            detail=f"anomaly episode {episode_id} escalated to {severity}",
            publish=False,
        )
        uow.record(MaintenanceTicketEscalated(escalated))
        return escalated


PRIORITY_BY_SEVERITY = {"medium": TicketPriority.MEDIUM, "high": TicketPriority.HIGH}
PRIORITY_ORDER = list(TicketPriority)
