"""A machine its owner deleted (in the products service) loses every way in: its
device credentials and the access grants given for it."""

from __future__ import annotations

from dataclasses import dataclass

from imcloud_core.ids import utcnow
from imcloud_gateway.domain.ports import UnitOfWork


@dataclass(frozen=True)
class RevokedAccess:
    credentials: int
    grants: int


def revoke_access_to_deleted_equipment(
    uow: UnitOfWork, *, tenant_id: str, equipment_id: str
) -> RevokedAccess:
    now = utcnow()
    with uow:
        return RevokedAccess(
            credentials=uow.device_credentials.revoke_all_of(
                tenant_id=tenant_id, equipment_id=equipment_id, at=now
            ),
            grants=uow.grants.revoke_all_of(tenant_id=tenant_id, equipment_id=equipment_id, at=now),
        )
