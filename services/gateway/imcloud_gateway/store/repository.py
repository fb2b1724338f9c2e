"""SQL implementations of the gateway's ports."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, or_, select
from sqlalchemy.orm import Session

from imcloud_core.db import Database
from imcloud_core.store import TenantTable, keyset_page
from imcloud_core.unit_of_work import SqlUnitOfWork
from imcloud_gateway.domain.model import (
    AccessGrant,
    ApiKey,
    AuditEvent,
    DeviceCredential,
    Role,
    Scope,
    Tenant,
    TenantKind,
    Tier,
)
from imcloud_gateway.domain.provisioning import ProvisioningState, ProvisioningStatus
from imcloud_gateway.store.tables import (
    access_grants,
    api_keys,
    audit_events,
    device_credentials,
    tenant_provisioning,
    tenants,
)


def _tenant(row: Row[Any]) -> Tenant:
    values = row._asdict()
    return Tenant(**{**values, "kind": TenantKind(values["kind"]), "tier": Tier(values["tier"])})


def _api_key(row: Row[Any]) -> ApiKey:
    values = row._asdict()
    return ApiKey(**{**values, "role": Role(values["role"])})


class SqlTenantRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, tenant: Tenant) -> None:
        self._session.execute(tenants.insert().values(**tenant.__dict__))

    def get(self, tenant_id: str) -> Tenant | None:
        row = self._session.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
        return _tenant(row) if row else None

    def offboard(self, tenant_id: str, at: datetime) -> None:
        self._session.execute(
            tenants.update()
            .where(tenants.c.id == tenant_id)
            .values(offboard_time=at, update_time=at)
        )


class SqlApiKeyRepository:
    table = TenantTable(api_keys)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, key: ApiKey) -> None:
        self.table.insert(self._session, key.__dict__)

    def get(self, *, tenant_id: str, key_id: str) -> ApiKey | None:
        row = self.table.get(self._session, tenant_id, key_id)
        return _api_key(row) if row else None

    def find(self, key_id: str) -> ApiKey | None:
        row = self._session.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return _api_key(row) if row else None

    def list(self, *, tenant_id: str, page_size: int, page_token: str) -> tuple[list[ApiKey], str]:
        rows, token = self.table.page(
            self._session, tenant_id, page_size=page_size, page_token=page_token
        )
        return [_api_key(r) for r in rows], token

    def revoke(self, *, tenant_id: str, key_id: str, at: datetime) -> None:
        self.table.update(self._session, tenant_id, key_id, {"revoke_time": at})

    def replace_secret(self, *, tenant_id: str, key_id: str, secret_hash: str) -> None:
        self.table.update(self._session, tenant_id, key_id, {"secret_hash": secret_hash})

    def revoke_all(self, *, tenant_id: str, at: datetime) -> None:
        _revoke_all(self._session, api_keys, at, api_keys.c.tenant_id == tenant_id)


def _credential(row: Row[Any]) -> DeviceCredential:
    return DeviceCredential(**row._asdict())


class SqlDeviceCredentialRepository:
    table = TenantTable(device_credentials)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, credential: DeviceCredential) -> None:
        self.table.insert(self._session, credential.__dict__)

    def get(self, *, tenant_id: str, credential_id: str) -> DeviceCredential | None:
        row = self.table.get(self._session, tenant_id, credential_id)
        return _credential(row) if row else None

    def find(self, credential_id: str) -> DeviceCredential | None:
        query = select(device_credentials).where(device_credentials.c.id == credential_id)
        row = self._session.execute(query).first()
        return _credential(row) if row else None

    def valid_among(self, credential_ids: Collection[str]) -> set[str]:
        c = device_credentials.c
        query = select(c.id).where(c.id.in_(list(credential_ids)), c.revoke_time.is_(None))
        return set(self._session.scalars(query))

    def list(
        self, *, tenant_id: str, equipment_id: str, page_size: int, page_token: str
    ) -> tuple[list[DeviceCredential], str]:
        rows, token = self.table.page(
            self._session,
            tenant_id,
            device_credentials.c.equipment_id == equipment_id,
            page_size=page_size,
            page_token=page_token,
        )
        return [_credential(r) for r in rows], token

    def save(self, credential: DeviceCredential) -> None:
        self.table.update(self._session, credential.tenant_id, credential.id, credential.__dict__)

    def revoke_all_of(self, *, tenant_id: str, equipment_id: str, at: datetime) -> int:
        return _revoke_all_of(self._session, device_credentials, tenant_id, equipment_id, at)

    def revoke_all(self, *, tenant_id: str, at: datetime) -> Sequence[str]:
        return _revoke_all(
            self._session, device_credentials, at, device_credentials.c.tenant_id == tenant_id
        )


def _grant(row: Row[Any]) -> AccessGrant:
    values = row._asdict()
    return AccessGrant(**{**values, "scopes": frozenset(Scope(s) for s in values["scopes"])})


class SqlGrantRepository:
    table = TenantTable(access_grants)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, grant: AccessGrant) -> None:
        self.table.insert(self._session, {**grant.__dict__, "scopes": sorted(grant.scopes)})

    def get(self, *, tenant_id: str, grant_id: str) -> AccessGrant | None:
        row = self.table.get(self._session, tenant_id, grant_id)
        return _grant(row) if row else None

    def list_given(
        self, *, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[AccessGrant], str]:
        rows, token = self.table.page(
            self._session, tenant_id, page_size=page_size, page_token=page_token
        )
        return [_grant(r) for r in rows], token

    def list_received(
        self, *, grantee_tenant_id: str, active_at: datetime, page_size: int, page_token: str
    ) -> tuple[list[AccessGrant], str]:
        c = access_grants.c
        rows, token = keyset_page(
            self._session,
            select(access_grants).where(
                c.grantee_tenant_id == grantee_tenant_id,
                c.revoke_time.is_(None),
                or_(c.expire_time.is_(None), c.expire_time > active_at),
            ),
            created=c.create_time,
            key=c.id,
            page_size=page_size,
            page_token=page_token,
        )
        return [_grant(r) for r in rows], token

    def received_for(self, *, grantee_tenant_id: str, equipment_id: str) -> list[AccessGrant]:
        c = access_grants.c
        rows = self._session.execute(
            select(access_grants).where(
                c.grantee_tenant_id == grantee_tenant_id, c.equipment_id == equipment_id
            )
        ).all()
        return [_grant(r) for r in rows]

    def save(self, grant: AccessGrant) -> None:
        self.table.update(
            self._session,
            grant.tenant_id,
            grant.id,
            {**grant.__dict__, "scopes": sorted(grant.scopes)},
        )

    def revoke_all_of(self, *, tenant_id: str, equipment_id: str, at: datetime) -> int:
        return _revoke_all_of(self._session, access_grants, tenant_id, equipment_id, at)

    def revoke_all_given_or_received(self, *, tenant_id: str, at: datetime) -> None:
        c = access_grants.c
        _revoke_all(
            self._session,
            access_grants,
            at,
            or_(c.tenant_id == tenant_id, c.grantee_tenant_id == tenant_id),
        )


def _revoke_all_of(
    session: Session, table: Table, tenant_id: str, equipment_id: str, at: datetime
) -> int:
    revoked = _revoke_all(
        session, table, at, table.c.tenant_id == tenant_id, table.c.equipment_id == equipment_id
    )
    return len(revoked)


def _revoke_all(
    session: Session, table: Table, at: datetime, *conditions: ColumnElement[bool]
) -> list[str]:
    """Revokes the rows not yet revoked that meet the conditions; returns their ids."""
    result = session.execute(
        table.update()
        .where(*conditions, table.c.revoke_time.is_(None))
        .values(revoke_time=at)
        .returning(table.c.id)
    )
    return list(result.scalars())


class SqlAuditRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, event: AuditEvent) -> None:
        self._session.execute(audit_events.insert().values(**event.__dict__))

    def list(
        self,
        *,
        tenant_id: str,
        actor: str,
        action: str,
        since: datetime | None,
        until: datetime | None,
        page_size: int,
        page_token: str,
    ) -> tuple[list[AuditEvent], str]:
        c = audit_events.c
        query = select(audit_events).where(c.tenant_id == tenant_id)
        if actor:
            query = query.where(c.actor == actor)
        if action:
            query = query.where(c.action == action)
        if since is not None:
            query = query.where(c.time >= since)
        if until is not None:
            query = query.where(c.time < until)
        rows, token = keyset_page(
            self._session,
            query,
            created=c.time,
            key=c.id,
            page_size=page_size,
            page_token=page_token,
            newest_first=True,
        )
        return [AuditEvent(**r._asdict()) for r in rows], token


class GatewayUnitOfWork(SqlUnitOfWork):
    tenants: SqlTenantRepository
    api_keys: SqlApiKeyRepository
    device_credentials: SqlDeviceCredentialRepository
    grants: SqlGrantRepository
    audit: SqlAuditRepository

    def __enter__(self) -> GatewayUnitOfWork:
        super().__enter__()
        self.tenants = SqlTenantRepository(self.session)
        self.api_keys = SqlApiKeyRepository(self.session)
        self.device_credentials = SqlDeviceCredentialRepository(self.session)
        self.grants = SqlGrantRepository(self.session)
        self.audit = SqlAuditRepository(self.session)
        return self


class SqlProvisioningRecords:
    """The domain's ProvisioningRecords; each call is a short transaction of its own."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, tenant_id: str) -> ProvisioningStatus | None:
        with self._db.read() as session:
            row = session.execute(
                select(tenant_provisioning).where(tenant_provisioning.c.tenant_id == tenant_id)
            ).first()
        if row is None:
            return None
        values = row._asdict()
        return ProvisioningStatus(**{**values, "state": ProvisioningState(values["state"])})

    def save(self, status: ProvisioningStatus) -> None:
        values = {**status.__dict__, "state": status.state.value}
        with self._db.transaction() as session:
            updated = session.execute(
                tenant_provisioning.update()
                .where(tenant_provisioning.c.tenant_id == status.tenant_id)
                .values(**values)
            )
            if not updated.rowcount:  # type: ignore[attr-defined]
                session.execute(tenant_provisioning.insert().values(**values))

    def dedicated_tenants(self) -> list[Tenant]:
        with self._db.read() as session:
            rows = session.execute(
                select(tenants).where(
                    tenants.c.tier == Tier.DEDICATED.value, tenants.c.offboard_time.is_(None)
                )
            ).all()
        return [_tenant(r) for r in rows]
