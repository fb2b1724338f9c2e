"""The audit log: who did what, when, from where, with which result."""

from __future__ import annotations

from datetime import datetime

from imcloud_core.paging import page_size
from imcloud_gateway.domain.identity import require_role
from imcloud_gateway.domain.model import AuditEvent, Principal, Role
from imcloud_gateway.domain.ports import UnitOfWork


def record(uow: UnitOfWork, events: list[AuditEvent]) -> None:
    with uow:
        for event in events:
            uow.audit.add(event)


def list_events(
    uow: UnitOfWork,
    *,
    principal: Principal,
    actor: str,
    action: str,
    since: datetime | None,
    until: datetime | None,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[AuditEvent], str]:
    require_role(principal, Role.ADMIN)
    size = page_size(requested_page_size)
    with uow:
        return uow.audit.list(
            tenant_id=principal.tenant_id,
            actor=actor,
            action=action,
            since=since,
            until=until,
            page_size=size,
            page_token=page_token,
        )
