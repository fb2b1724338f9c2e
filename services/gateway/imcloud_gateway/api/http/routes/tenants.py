"""Sign-up, the caller's tenant, and its API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from imcloud_core.errors import PermissionDenied
from imcloud_gateway.api.http.deps import (
    GatewayDep,
    PageSize,
    PageToken,
    PrincipalDep,
    limit_anonymous,
)
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.tenants import (
    ApiKeyResponse,
    CreateApiKeyRequest,
    IssuedApiKeyResponse,
    ProvisioningResponse,
    SignUpRequest,
    SignUpResponse,
    TenantResponse,
    TokenResponse,
)
from imcloud_gateway.domain import identity
from imcloud_gateway.domain.model import ApiKey, Tenant
from imcloud_gateway.domain.provisioning import ProvisioningState

router = APIRouter(tags=["tenants"])


def tenant_body(tenant: Tenant) -> TenantResponse:
    return TenantResponse(
        id=tenant.id,
        name=tenant.name,
        kind=tenant.kind,
        tier=tenant.tier,
        create_time=tenant.create_time,
    )


def key_body(key: ApiKey) -> ApiKeyResponse:
    return ApiKeyResponse(
        id=key.id,
        name=key.name,
        role=key.role,
        create_time=key.create_time,
        expire_time=key.expire_time,
        revoke_time=key.revoke_time,
    )


def issued_key_body(issued: identity.IssuedApiKey) -> IssuedApiKeyResponse:
    return IssuedApiKeyResponse(**key_body(issued.key).model_dump(), secret=issued.plaintext)


@router.post(
    "/v1/tenants",
    status_code=status.HTTP_201_CREATED,
    summary="Sign up an enterprise or equipment maker",
    description=(
        "Creates a tenant and returns its owner API key; the key is shown only once. "
        "Names need not be unique (a refused name would tell who uses the platform): "
        "tenants are told apart by id."
    ),
    responses=error_responses(403, 422, 429),
)
def sign_up(
    body: SignUpRequest,
    request: Request,
    gateway: GatewayDep,
    _: Annotated[None, Depends(limit_anonymous)],
) -> SignUpResponse:
    if not gateway.settings.signup_enabled:
        raise PermissionDenied("sign-up is turned off here; ask the operator for a tenant")
    tenant, owner_key = identity.sign_up(
        gateway.unit_of_work(), name=body.name, kind=body.kind, tier=body.tier
    )
    request.state.signed_up_tenant_id = tenant.id  # the new tenant's audit log starts here
    return SignUpResponse(tenant=tenant_body(tenant), owner_key=issued_key_body(owner_key))


@router.get(
    "/v1/tenant",
    summary="The caller's tenant, with the state of its dedicated resources",
    responses=error_responses(401, 429),
)
def get_own_tenant(principal: PrincipalDep, gateway: GatewayDep) -> TenantResponse:
    tenant = identity.get_tenant(gateway.unit_of_work(), tenant_id=principal.tenant_id)
    body = tenant_body(tenant)
    if gateway.provisioning_records is not None:
        record = gateway.provisioning_records.get(tenant.id)
        body.provisioning = (
            ProvisioningResponse(
                state=record.state.value,
                namespace=record.namespace,
                message=record.message,
                update_time=record.update_time,
            )
            if record
            else ProvisioningResponse(
                state=ProvisioningState.PENDING.value, namespace="", message="", update_time=None
            )
        )
    return body


@router.delete(
    "/v1/tenant",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Leave the platform (owner only)",
    description=(
        "Every API key and token, device credential and access grant (given and received) "
        "stops working at once, and its machines' open device-link streams are closed; "
        "dedicated resources are removed. "
        "The tenant's data stays until the operator purges it."
    ),
    responses=error_responses(401, 403, 429),
)
def offboard(principal: PrincipalDep, gateway: GatewayDep) -> Response:
    for credential_id in identity.offboard(gateway.unit_of_work(), principal=principal):
        gateway.streams.close(credential_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/api-keys",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key",
    description="Needs the admin role; a key never gets a higher role than its creator.",
    responses=error_responses(401, 403, 422, 429),
)
def create_api_key(
    body: CreateApiKeyRequest, principal: PrincipalDep, gateway: GatewayDep
) -> IssuedApiKeyResponse:
    issued = identity.create_api_key(
        gateway.unit_of_work(),
        principal=principal,
        name=body.name,
        role=body.role,
        expire_time=body.expire_time,
    )
    return issued_key_body(issued)


@router.get(
    "/v1/api-keys",
    summary="List the tenant's API keys",
    responses=error_responses(401, 403, 422, 429),
)
def list_api_keys(
    principal: PrincipalDep,
    gateway: GatewayDep,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[ApiKeyResponse]:
    keys, token = identity.list_api_keys(
        gateway.unit_of_work(),
        principal=principal,
        requested_page_size=page_size,
        page_token=page_token,
    )
    return Page(items=[key_body(k) for k in keys], next_page_token=token)


@router.post(
    "/v1/api-keys/{key_id}:rotate",
    summary="Give an API key a new secret",
    description="The old secret stops working at once; the new one is shown only once.",
    responses=error_responses(401, 403, 404, 409, 429),
)
def rotate_api_key(
    key_id: str, principal: PrincipalDep, gateway: GatewayDep
) -> IssuedApiKeyResponse:
    issued = identity.rotate_api_key(gateway.unit_of_work(), principal=principal, key_id=key_id)
    return issued_key_body(issued)


@router.post(
    "/v1/tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Exchange the presented API key for a short-lived bearer token",
    description=(
        "The token acts with the key's tenant and role until it expires, or until the key "
        "is revoked or rotated, whichever comes first. Only an API key mints tokens: "
        "a token presented here gets 403."
    ),
    responses=error_responses(401, 403, 429),
)
def issue_token(principal: PrincipalDep, gateway: GatewayDep) -> TokenResponse:
    token, expire_time = identity.issue_token(
        principal=principal,
        ttl_s=gateway.settings.jwt_ttl_s,
        token_secret=gateway.settings.jwt_secret.get_secret_value(),
    )
    return TokenResponse(access_token=token, expire_time=expire_time)


@router.post(
    "/v1/api-keys/{key_id}:revoke",
    summary="Revoke an API key",
    description="The key stops working at once. Revoking a revoked key changes nothing.",
    responses=error_responses(401, 403, 404, 429),
)
def revoke_api_key(key_id: str, principal: PrincipalDep, gateway: GatewayDep) -> ApiKeyResponse:
    key = identity.revoke_api_key(gateway.unit_of_work(), principal=principal, key_id=key_id)
    return key_body(key)
