"""SQL implementations of the gateway's ports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, exists, select
from sqlalchemy.orm import Session

from imcloud_core.store import TenantTable
from imcloud_core.unit_of_work import SqlUnitOfWork
from imcloud_gateway.domain.model import ApiKey, Role, Tenant, TenantKind, Tier
from imcloud_gateway.store.tables import api_keys, tenants


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

    def name_taken(self, name: str) -> bool:
        query = select(exists().where(tenants.c.name == name))
        return bool(self._session.execute(query).scalar())


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


class GatewayUnitOfWork(SqlUnitOfWork):
    tenants: SqlTenantRepository
    api_keys: SqlApiKeyRepository

    def __enter__(self) -> GatewayUnitOfWork:
        super().__enter__()
        self.tenants = SqlTenantRepository(self.session)
        self.api_keys = SqlApiKeyRepository(self.session)
        return self
