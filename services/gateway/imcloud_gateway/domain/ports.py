"""What the gateway's domain needs from storage, as protocols the store implements."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from imcloud_core.ports import Transaction
from imcloud_gateway.domain.model import ApiKey, Tenant


class TenantRepository(Protocol):
    def add(self, tenant: Tenant) -> None: ...

    def get(self, tenant_id: str) -> Tenant | None: ...

    def name_taken(self, name: str) -> bool: ...


class ApiKeyRepository(Protocol):
    def add(self, key: ApiKey) -> None: ...

    def get(self, *, tenant_id: str, key_id: str) -> ApiKey | None: ...

    def find(self, key_id: str) -> ApiKey | None:
        """The key with this id, whichever tenant holds it (authentication)."""

    def list(
        self, *, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[ApiKey], str]: ...

    def revoke(self, *, tenant_id: str, key_id: str, at: datetime) -> None: ...

    def replace_secret(self, *, tenant_id: str, key_id: str, secret_hash: str) -> None: ...


class UnitOfWork(Transaction, Protocol):
    @property
    def tenants(self) -> TenantRepository: ...

    @property
    def api_keys(self) -> ApiKeyRepository: ...
