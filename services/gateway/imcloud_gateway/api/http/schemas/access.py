"""Bodies of the device-credential, access-grant and audit routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from imcloud_gateway.api.http.schemas.common import EXAMPLE_FUTURE_TIME, Body
from imcloud_gateway.api.http.schemas.products import EquipmentResponse
from imcloud_gateway.domain.model import Scope


class DeviceCredentialResponse(BaseModel):
    id: str
    equipment_id: str
    create_time: datetime
    rotate_time: datetime | None
    revoke_time: datetime | None


class IssuedDeviceCredentialResponse(DeviceCredentialResponse):
    secret: str = Field(
        description="What the machine presents on the device link. Shown only once."
    )


class CreateAccessGrantRequest(Body):
    grantee_tenant_id: str = Field(
        min_length=1, max_length=36, description="The equipment maker's tenant id"
    )
    equipment_id: str = Field(min_length=1, max_length=36)
    scopes: list[Scope] = Field(
        min_length=1,
        max_length=len(Scope),
        examples=[["twin:read", "telemetry:read", "commands:send", "config:write"]],
    )
    expire_time: AwareDatetime | None = Field(
        None, description="No expiry when absent", examples=[EXAMPLE_FUTURE_TIME]
    )


class AccessGrantResponse(BaseModel):
    id: str
    owner_tenant_id: str
    grantee_tenant_id: str
    equipment_id: str
    scopes: list[Scope]
    create_time: datetime
    expire_time: datetime | None
    revoke_time: datetime | None
    active: bool


class GrantedEquipmentResponse(BaseModel):
    grant: AccessGrantResponse
    equipment: EquipmentResponse


class AuditEventResponse(BaseModel):
    id: str
    time: datetime
    actor: str = Field(description="key:<id>, or signup")
    actor_tenant_id: str = Field(description="Differs from yours when a maker acted via a grant")
    action: str = Field(examples=["POST /v1/plants"])
    resource: str
    status: int
    succeeded: bool
    source_ip: str
    request_id: str
    grant_id: str
