"""Tenants, their credentials, and who a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from imcloud_core.errors import FieldViolation, InvalidArgument

NAME_MAX = 200

# How a presented credential says what it is: "<prefix>_<id>_<secret>".
API_KEY_PREFIX = "imk"
DEVICE_PREFIX = "imd"


class TenantKind(StrEnum):
    # A manufacturer that runs plants and owns equipment.
    ENTERPRISE = "enterprise"
    # An equipment maker that services machines it sold to enterprises.
    OEM = "oem"


class Tier(StrEnum):
    SHARED = "shared"
    # Gets its own Kubernetes namespace, quota and network policy.
    DEDICATED = "dedicated"


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, required: Role) -> bool:
        return self.rank >= required.rank


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    kind: TenantKind
    tier: Tier
    create_time: datetime
    update_time: datetime
    # Set when the tenant left the platform.
    offboard_time: datetime | None = None


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant_id: str
    name: str
    role: Role
    secret_hash: str
    create_time: datetime
    expire_time: datetime | None = None
    revoke_time: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        return _in_force(now, expire_time=self.expire_time, revoke_time=self.revoke_time)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    tenant_id: str
    role: Role
    # "key:<id>" for API keys and tokens issued from them.
    actor: str
    # The credential presented (an API key id), for per-credential limits.
    credential_id: str
    # The secret generation of the API key, when the caller presented the key itself;
    # None for a token, which must not mint tokens (it would renew itself for ever).
    api_key_generation: str | None = None


def check_tenant_fields(*, name: str) -> None:
    if not name.strip():
        raise InvalidArgument(
            "the tenant is not valid", violations=(FieldViolation("name", "must not be empty"),)
        )
    if len(name) > NAME_MAX:
        raise InvalidArgument(
            "the tenant is not valid",
            violations=(FieldViolation("name", f"must be at most {NAME_MAX} characters"),),
        )


class Scope(StrEnum):
    """What an access grant lets an equipment maker do with one machine."""

    TELEMETRY_READ = "telemetry:read"
    TWIN_READ = "twin:read"
    COMMANDS_SEND = "commands:send"
    # Change the machine's desired state (the desired side of its twin).
    CONFIG_WRITE = "config:write"


@dataclass(frozen=True)
class DeviceCredential:
    id: str
    tenant_id: str
    equipment_id: str
    secret_hash: str
    create_time: datetime
    rotate_time: datetime | None = None
    revoke_time: datetime | None = None


@dataclass(frozen=True)
class DevicePrincipal:
    """An authenticated machine: it speaks only for its own equipment id."""

    tenant_id: str
    equipment_id: str
    credential_id: str


@dataclass(frozen=True)
class AccessGrant:
    id: str
    # The enterprise that owns the equipment and gave the grant.
    tenant_id: str
    # The equipment maker that received it.
    grantee_tenant_id: str
    equipment_id: str
    scopes: frozenset[Scope]
    create_time: datetime
    expire_time: datetime | None = None
    revoke_time: datetime | None = None

    def active_at(self, now: datetime) -> bool:
        return _in_force(now, expire_time=self.expire_time, revoke_time=self.revoke_time)


@dataclass(frozen=True)
class AuditEvent:
    id: str
    # The tenant whose log holds the event.
    tenant_id: str
    time: datetime
    # Who acted ("key:<id>", "signup"), and for which tenant they act.
    actor: str
    actor_tenant_id: str
    # "<METHOD> <route>", e.g. "POST /v1/plants".
    action: str
    # The path acted on, e.g. /v1/plants/3f2a...
    resource: str
    # The HTTP status of the answer.
    status: int
    source_ip: str
    request_id: str
    # Set when an equipment maker acted through an access grant.
    grant_id: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status < 400


def _in_force(now: datetime, *, expire_time: datetime | None, revoke_time: datetime | None) -> bool:
    """Not revoked, and not expired (or never expiring)."""
    return revoke_time is None and (expire_time is None or now < expire_time)
