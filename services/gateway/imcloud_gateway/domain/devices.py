"""Device credentials: how a machine proves which equipment it is.

A credential belongs to one machine and only ever speaks for it; its secret is
shown once, stored hashed, can be rotated (the old secret stops at once) and
revoked.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from imcloud_core.errors import FailedPrecondition, NotFound, Unauthenticated
from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_gateway.domain import secrets
from imcloud_gateway.domain.identity import require_role
from imcloud_gateway.domain.model import (
    DEVICE_PREFIX,
    DeviceCredential,
    DevicePrincipal,
    Principal,
    Role,
)
from imcloud_gateway.domain.ports import EquipmentDirectory, UnitOfWork


def issue_device_credential(
    uow: UnitOfWork, directory: EquipmentDirectory, *, principal: Principal, equipment_id: str
) -> tuple[DeviceCredential, str]:
    """A new credential for the machine, and its secret (shown once)."""
    require_role(principal, Role.ADMIN)
    _require_equipment(directory, principal.tenant_id, equipment_id)
    issued = secrets.issue(DEVICE_PREFIX, new_id())
    credential = DeviceCredential(
        id=issued.credential_id,
        tenant_id=principal.tenant_id,
        equipment_id=equipment_id,
        secret_hash=issued.secret_hash,
        create_time=utcnow(),
    )
    with uow:
        uow.device_credentials.add(credential)
    return credential, issued.plaintext


def list_device_credentials(
    uow: UnitOfWork,
    directory: EquipmentDirectory,
    *,
    principal: Principal,
    equipment_id: str,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[DeviceCredential], str]:
    require_role(principal, Role.ADMIN)
    _require_equipment(directory, principal.tenant_id, equipment_id)
    size = page_size(requested_page_size)
    with uow:
        return uow.device_credentials.list(
            tenant_id=principal.tenant_id,
            equipment_id=equipment_id,
            page_size=size,
            page_token=page_token,
        )


def rotate_device_credential(
    uow: UnitOfWork, *, principal: Principal, equipment_id: str, credential_id: str
) -> tuple[DeviceCredential, str]:
    require_role(principal, Role.ADMIN)
    issued = secrets.issue(DEVICE_PREFIX, credential_id)
    with uow:
        current = _existing(uow, principal, equipment_id, credential_id)
        if current.revoke_time is not None:
            raise FailedPrecondition("a revoked credential cannot be rotated; issue a new one")
        rotated = replace(current, secret_hash=issued.secret_hash, rotate_time=utcnow())
        uow.device_credentials.save(rotated)
    return rotated, issued.plaintext


def revoke_device_credential(
    uow: UnitOfWork, *, principal: Principal, equipment_id: str, credential_id: str
) -> DeviceCredential:
    require_role(principal, Role.ADMIN)
    with uow:
        current = _existing(uow, principal, equipment_id, credential_id)
        if current.revoke_time is not None:
            return current
        revoked = replace(current, revoke_time=utcnow())
        uow.device_credentials.save(revoked)
    return revoked


def authenticate_device(uow: UnitOfWork, *, presented: str) -> DevicePrincipal:
    credential_id, secret = secrets.split(DEVICE_PREFIX, presented)
    with uow:
        credential = uow.device_credentials.find(credential_id)
    if credential is None or not secrets.matches(secret, credential.secret_hash):
        raise Unauthenticated("unknown device credential")
    if credential.revoke_time is not None:
        raise Unauthenticated("the device credential is revoked")
    return DevicePrincipal(
        tenant_id=credential.tenant_id,
        equipment_id=credential.equipment_id,
        credential_id=credential.id,
    )


def still_valid(uow: UnitOfWork, credential_ids: Collection[str]) -> set[str]:
    """Which of the open connections' credentials still authenticate: one query for
    many connections, however many one gateway holds."""
    with uow:
        return uow.device_credentials.valid_among(credential_ids)


def _existing(
    uow: UnitOfWork, principal: Principal, equipment_id: str, credential_id: str
) -> DeviceCredential:
    credential = uow.device_credentials.get(
        tenant_id=principal.tenant_id, credential_id=credential_id
    )
    if credential is None or credential.equipment_id != equipment_id:
        raise NotFound(f"device credential {credential_id!r} not found for this equipment")
    return credential


def _require_equipment(directory: EquipmentDirectory, tenant_id: str, equipment_id: str) -> None:
    if not directory.exists(tenant_id=tenant_id, equipment_id=equipment_id):
        raise NotFound(f"equipment {equipment_id!r} not found")
