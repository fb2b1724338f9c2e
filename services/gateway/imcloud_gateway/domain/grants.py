"""Access grants: an enterprise lets an equipment maker service one machine.

The maker sees exactly the machines granted to it, across all its customers,
with the granted scopes, until the grant expires or is revoked. A grant that
does not cover a request looks like a machine that does not exist (404), so a
maker cannot probe which machines exist.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from imcloud_core.errors import FieldViolation, InvalidArgument, NotFound
from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_gateway.domain.identity import require_role
from imcloud_gateway.domain.model import AccessGrant, Principal, Role, Scope, TenantKind
from imcloud_gateway.domain.ports import EquipmentDirectory, UnitOfWork


def grant_access(
    uow: UnitOfWork,
    directory: EquipmentDirectory,
    *,
    principal: Principal,
    grantee_tenant_id: str,
    equipment_id: str,
    scopes: frozenset[Scope],
    expire_time: datetime | None,
) -> AccessGrant:
    require_role(principal, Role.ADMIN)
    now = utcnow()
    violations = []
    if not scopes:
        violations.append(FieldViolation("scopes", "grant at least one scope"))
    if expire_time is not None and expire_time <= now:
        violations.append(FieldViolation("expire_time", "must be in the future"))
    if grantee_tenant_id == principal.tenant_id:
        violations.append(FieldViolation("grantee_tenant_id", "a tenant cannot grant itself"))
    if violations:
        raise InvalidArgument("the grant is not valid", violations=tuple(violations))
    if not directory.exists(tenant_id=principal.tenant_id, equipment_id=equipment_id):
        raise InvalidArgument(
            "the grant is not valid",
            violations=(FieldViolation("equipment_id", f"no equipment {equipment_id!r}"),),
        )
    grant = AccessGrant(
        id=new_id(),
        tenant_id=principal.tenant_id,
        grantee_tenant_id=grantee_tenant_id,
        equipment_id=equipment_id,
        scopes=scopes,
        create_time=now,
        expire_time=expire_time,
    )
    with uow:
        grantee = uow.tenants.get(grantee_tenant_id)
        if grantee is None or grantee.kind is not TenantKind.OEM:
            raise InvalidArgument(
                "the grant is not valid",
                violations=(
                    FieldViolation(
                        "grantee_tenant_id", "no equipment-maker (oem) tenant with this id"
                    ),
                ),
            )
        uow.grants.add(grant)
    return grant


def list_given_grants(
    uow: UnitOfWork, *, principal: Principal, requested_page_size: int, page_token: str
) -> tuple[list[AccessGrant], str]:
    require_role(principal, Role.ADMIN)
    size = page_size(requested_page_size)
    with uow:
        return uow.grants.list_given(
            tenant_id=principal.tenant_id, page_size=size, page_token=page_token
        )


def revoke_grant(uow: UnitOfWork, *, principal: Principal, grant_id: str) -> AccessGrant:
    require_role(principal, Role.ADMIN)
    with uow:
        grant = uow.grants.get(tenant_id=principal.tenant_id, grant_id=grant_id)
        if grant is None:
            raise NotFound(f"access grant {grant_id!r} not found")
        if grant.revoke_time is not None:
            return grant
        revoked = replace(grant, revoke_time=utcnow())
        uow.grants.save(revoked)
    return revoked


def list_received_grants(
    uow: UnitOfWork, *, principal: Principal, requested_page_size: int, page_token: str
) -> tuple[list[AccessGrant], str]:
    """The grants an equipment maker holds that are active now."""
    size = page_size(requested_page_size)
    with uow:
        return uow.grants.list_received(
            grantee_tenant_id=principal.tenant_id,
            active_at=utcnow(),
            page_size=size,
            page_token=page_token,
        )


def grant_covering(
    uow: UnitOfWork, *, principal: Principal, equipment_id: str, scope: Scope
) -> AccessGrant:
    """The active grant that lets the caller use ``scope`` on the machine, or 404."""
    now = utcnow()
    with uow:
        grants = uow.grants.received_for(
            grantee_tenant_id=principal.tenant_id, equipment_id=equipment_id
        )
    for grant in grants:
        if grant.active_at(now) and scope in grant.scopes:
            return grant
    raise NotFound(f"equipment {equipment_id!r} not found")


def scopes_left(uow: UnitOfWork, *, grantee_tenant_id: str, equipment_id: str) -> frozenset[Scope]:
    """What the maker may still do on the machine through its active grants."""
    now = utcnow()
    with uow:
        found = uow.grants.received_for(
            grantee_tenant_id=grantee_tenant_id, equipment_id=equipment_id
        )
    return frozenset(scope for grant in found if grant.active_at(now) for scope in grant.scopes)
