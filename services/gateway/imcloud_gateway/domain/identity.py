"""Tenants and who may act for them: sign-up, API keys, tokens, authentication."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from imcloud_core.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_gateway.domain import secrets, tokens
from imcloud_gateway.domain.events import TenantOffboarded, TenantOnboarded
from imcloud_gateway.domain.model import (
    API_KEY_PREFIX,
    DEVICE_PREFIX,
    ApiKey,
    Principal,
    Role,
    Tenant,
    TenantKind,
    Tier,
    check_tenant_fields,
)
from imcloud_gateway.domain.ports import UnitOfWork


@dataclass(frozen=True)
class IssuedApiKey:
    key: ApiKey
    # Shown to the holder once, never stored.
    plaintext: str


def sign_up(
    uow: UnitOfWork, *, name: str, kind: TenantKind, tier: Tier
) -> tuple[Tenant, IssuedApiKey]:
    """Creates a tenant and its owner key.

    Names need not be unique: refusing a taken name would tell anyone which
    companies use the platform. Tenants are told apart by id.
    """
    check_tenant_fields(name=name)
    now = utcnow()
    tenant = Tenant(
        id=new_id(), name=name.strip(), kind=kind, tier=tier, create_time=now, update_time=now
    )
    with uow:
        uow.tenants.add(tenant)
        owner_key = _new_api_key(tenant_id=tenant.id, name="owner", role=Role.OWNER, now=now)
        uow.api_keys.add(owner_key.key)
        uow.record(TenantOnboarded(tenant))
    return tenant, owner_key


def offboard(uow: UnitOfWork, *, principal: Principal) -> Sequence[str]:
    """The tenant leaves: its API keys (and so their tokens), device credentials and
    access grants, given and received, stop at once; dedicated resources go.

    Returns the device credentials it revoked, whose open streams the caller ends.
    """
    require_role(principal, Role.OWNER)
    now = utcnow()
    with uow:
        tenant = uow.tenants.get(principal.tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {principal.tenant_id!r} not found")
        uow.tenants.offboard(tenant.id, now)
        uow.api_keys.revoke_all(tenant_id=tenant.id, at=now)
        credential_ids = uow.device_credentials.revoke_all(tenant_id=tenant.id, at=now)
        uow.grants.revoke_all_given_or_received(tenant_id=tenant.id, at=now)
        uow.record(TenantOffboarded(replace(tenant, offboard_time=now, update_time=now)))
    return credential_ids


def get_tenant(uow: UnitOfWork, *, tenant_id: str) -> Tenant:
    with uow:
        tenant = uow.tenants.get(tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    return tenant


def create_api_key(
    uow: UnitOfWork,
    *,
    principal: Principal,
    name: str,
    role: Role,
    expire_time: datetime | None,
) -> IssuedApiKey:
    require_role(principal, Role.ADMIN)
    if not principal.role.allows(role):
        raise PermissionDenied(f"a {principal.role} cannot create a key with role {role}")
    now = utcnow()
    if expire_time is not None and expire_time <= now:
        raise InvalidArgument(
            "the key would be expired already",
            violations=(FieldViolation("expire_time", "must be in the future"),),
        )
    if not name.strip():
        raise InvalidArgument(
            "the key is not valid", violations=(FieldViolation("name", "must not be empty"),)
        )
    issued = _new_api_key(
        tenant_id=principal.tenant_id, name=name.strip(), role=role, now=now, expires=expire_time
    )
    with uow:
        uow.api_keys.add(issued.key)
    return issued


def list_api_keys(
    uow: UnitOfWork, *, principal: Principal, requested_page_size: int, page_token: str
) -> tuple[list[ApiKey], str]:
    require_role(principal, Role.ADMIN)
    size = page_size(requested_page_size)
    with uow:
        return uow.api_keys.list(
            tenant_id=principal.tenant_id, page_size=size, page_token=page_token
        )


def revoke_api_key(uow: UnitOfWork, *, principal: Principal, key_id: str) -> ApiKey:
    require_role(principal, Role.ADMIN)
    with uow:
        key = _manageable_key(uow, principal, key_id, action="revoke")
        if key.revoke_time is None:
            uow.api_keys.revoke(tenant_id=principal.tenant_id, key_id=key_id, at=utcnow())
        revoked = uow.api_keys.get(tenant_id=principal.tenant_id, key_id=key_id)
    assert revoked is not None
    return revoked


def rotate_api_key(uow: UnitOfWork, *, principal: Principal, key_id: str) -> IssuedApiKey:
    """Gives the key a new secret; the old secret stops working at once."""
    require_role(principal, Role.ADMIN)
    issued = secrets.issue(API_KEY_PREFIX, key_id)
    with uow:
        key = _manageable_key(uow, principal, key_id, action="rotate")
        if not key.usable_at(utcnow()):
            raise FailedPrecondition("a revoked or expired key cannot be rotated")
        uow.api_keys.replace_secret(
            tenant_id=principal.tenant_id, key_id=key_id, secret_hash=issued.secret_hash
        )
    return IssuedApiKey(
        key=replace(key, secret_hash=issued.secret_hash), plaintext=issued.plaintext
    )


def authenticate(uow: UnitOfWork, *, presented: str, token_secret: str) -> Principal:
    """The principal behind an API key or a token issued from one."""
    if tokens.looks_like_token(presented):
        claims = tokens.verify_token(presented, secret=token_secret)
        with uow:
            key = uow.api_keys.find(claims.key_id)
        if key is None:
            raise Unauthenticated("invalid token")
        if claims.secret_generation != tokens.secret_generation(key.secret_hash):
            raise Unauthenticated(
                "the token was minted before its API key was rotated; "
                "request a new one with the key's new secret"
            )
        generation = None
    else:
        if presented.startswith(f"{DEVICE_PREFIX}_"):
            raise Unauthenticated(
                "a device credential is for the device link and /v1/device/telemetry; "
                "use an API key"
            )
        key_id, secret = secrets.split(API_KEY_PREFIX, presented)
        with uow:
            key = uow.api_keys.find(key_id)
        if key is None or not secrets.matches(secret, key.secret_hash):
            raise Unauthenticated("unknown API key")
        generation = tokens.secret_generation(key.secret_hash)
    if not key.usable_at(utcnow()):
        raise Unauthenticated("the API key is revoked or expired")
    return Principal(
        tenant_id=key.tenant_id,
        role=key.role,
        actor=f"key:{key.id}",
        credential_id=key.id,
        api_key_generation=generation,
    )


def issue_token(*, principal: Principal, ttl_s: int, token_secret: str) -> tuple[str, datetime]:
    if principal.api_key_generation is None:
        raise PermissionDenied(
            "only an API key mints tokens; present the API key, not a token, to POST /v1/tokens"
        )
    return tokens.issue_token(
        key_id=principal.credential_id,
        tenant_id=principal.tenant_id,
        role=principal.role,
        secret_generation=principal.api_key_generation,
        now=utcnow(),
        ttl_s=ttl_s,
        secret=token_secret,
    )


def require_role(principal: Principal, required: Role) -> None:
    if not principal.role.allows(required):
        raise PermissionDenied(f"this needs the {required} role; the caller is {principal.role}")


def _manageable_key(uow: UnitOfWork, principal: Principal, key_id: str, *, action: str) -> ApiKey:
    """The tenant's key, if the caller's role reaches the key's (else 404 or 403)."""
    key = uow.api_keys.get(tenant_id=principal.tenant_id, key_id=key_id)
    if key is None:
        raise NotFound(f"API key {key_id!r} not found")
    if not principal.role.allows(key.role):
        raise PermissionDenied(f"a {principal.role} cannot {action} a {key.role} key")
    return key


def _new_api_key(
    *, tenant_id: str, name: str, role: Role, now: datetime, expires: datetime | None = None
) -> IssuedApiKey:
    issued = secrets.issue(API_KEY_PREFIX, new_id())
    key = ApiKey(
        id=issued.credential_id,
        tenant_id=tenant_id,
        name=name,
        role=role,
        secret_hash=issued.secret_hash,
        create_time=now,
        expire_time=expires,
    )
    return IssuedApiKey(key=key, plaintext=issued.plaintext)
