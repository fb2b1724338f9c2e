"""What the gateway's domain needs from storage and from other services."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from imcloud_core.ports import Transaction
from imcloud_gateway.domain.model import (
    AccessGrant,
    ApiKey,
    AuditEvent,
    DeviceCredential,
    Tenant,
)


class TenantRepository(Protocol):
    def add(self, tenant: Tenant) -> None: ...

    def get(self, tenant_id: str) -> Tenant | None: ...

    def offboard(self, tenant_id: str, at: datetime) -> None: ...


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

    def revoke_all(self, *, tenant_id: str, at: datetime) -> None: ...


class DeviceCredentialRepository(Protocol):
    def add(self, credential: DeviceCredential) -> None: ...

    def get(self, *, tenant_id: str, credential_id: str) -> DeviceCredential | None: ...

    def find(self, credential_id: str) -> DeviceCredential | None:
        """The credential with this id, whichever tenant holds it (authentication)."""

    def valid_among(self, credential_ids: Collection[str]) -> set[str]:
        """Those of the ids whose credential exists and is not revoked."""

    def list(
        self, *, tenant_id: str, equipment_id: str, page_size: int, page_token: str
    ) -> tuple[list[DeviceCredential], str]: ...

    def save(self, credential: DeviceCredential) -> None: ...

    def revoke_all_of(self, *, tenant_id: str, equipment_id: str, at: datetime) -> int: ...

    def revoke_all(self, *, tenant_id: str, at: datetime) -> Sequence[str]:
        """Revokes every credential of the tenant; returns the ids it revoked."""


class GrantRepository(Protocol):
    def add(self, grant: AccessGrant) -> None: ...

    def get(self, *, tenant_id: str, grant_id: str) -> AccessGrant | None: ...

    def list_given(
        self, *, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[AccessGrant], str]: ...

    def list_received(
        self, *, grantee_tenant_id: str, active_at: datetime, page_size: int, page_token: str
    ) -> tuple[list[AccessGrant], str]:
        """The grants the equipment maker holds that are active at ``active_at``."""

    def received_for(self, *, grantee_tenant_id: str, equipment_id: str) -> list[AccessGrant]: ...

    def save(self, grant: AccessGrant) -> None: ...

    def revoke_all_of(self, *, tenant_id: str, equipment_id: str, at: datetime) -> int: ...

    def revoke_all_given_or_received(self, *, tenant_id: str, at: datetime) -> None:
        """Every grant the tenant gave and every grant it received (it left)."""


class AuditRepository(Protocol):
    def add(self, event: AuditEvent) -> None: ...

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
    ) -> tuple[list[AuditEvent], str]: ...


class EquipmentDirectory(Protocol):
    """Asks the products service whether a tenant owns a machine."""

    def exists(self, *, tenant_id: str, equipment_id: str) -> bool: ...


class UnitOfWork(Transaction, Protocol):
    @property
    def tenants(self) -> TenantRepository: ...

    @property
    def api_keys(self) -> ApiKeyRepository: ...

    @property
    def device_credentials(self) -> DeviceCredentialRepository: ...

    @property
    def grants(self) -> GrantRepository: ...

    @property
    def audit(self) -> AuditRepository: ...
