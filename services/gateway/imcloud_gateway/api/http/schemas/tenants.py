"""Bodies of the tenant, API key and token routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from imcloud_gateway.api.http.schemas.common import EXAMPLE_FUTURE_TIME, Body, Name
from imcloud_gateway.domain.model import Role, TenantKind, Tier


class SignUpRequest(Body):
    name: Name
    kind: TenantKind = TenantKind.ENTERPRISE
    tier: Tier = Tier.SHARED


class ProvisioningResponse(BaseModel):
    state: str = Field(
        examples=["provisioned"],
        description="not_needed (shared tier), pending, provisioned, failed or deprovisioned",
    )
    namespace: str = Field(description="The tenant's Kubernetes namespace (dedicated tier)")
    message: str
    update_time: datetime | None


class TenantResponse(BaseModel):
    id: str
    name: str
    kind: TenantKind
    tier: Tier
    create_time: datetime
    provisioning: ProvisioningResponse | None = Field(
        default=None, description="Dedicated resources; null where the platform does not provision"
    )


class ApiKeyResponse(BaseModel):
    id: str
    name: str
    role: Role
    create_time: datetime
    expire_time: datetime | None
    revoke_time: datetime | None


class IssuedApiKeyResponse(ApiKeyResponse):
    secret: str = Field(
        description="The key to present as 'Authorization: Bearer <secret>'. Shown only once."
    )


class SignUpResponse(BaseModel):
    tenant: TenantResponse
    owner_key: IssuedApiKeyResponse


class CreateApiKeyRequest(Body):
    name: Name
    role: Role = Role.VIEWER
    expire_time: AwareDatetime | None = Field(None, examples=[EXAMPLE_FUTURE_TIME])


class TokenResponse(BaseModel):
    access_token: str = Field(description="Send as 'Authorization: Bearer <access_token>'.")
    token_type: str = "Bearer"  # noqa: S105 - an auth scheme name, not a secret
    expire_time: datetime
