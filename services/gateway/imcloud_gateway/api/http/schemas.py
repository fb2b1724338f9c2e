"""The REST API's request and response bodies (and so its OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from imcloud_gateway.domain.model import Role, TenantKind, Tier

T = TypeVar("T")

Name = Annotated[str, Field(min_length=1, max_length=200, examples=["Plant Augsburg"])]


class Body(BaseModel):
    # Unknown fields are refused, so a typo is an error instead of a silent no-op.
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_page_token: str = Field(
        "", description="Pass as page_token to get the next page; empty on the last page."
    )


class ErrorDetail(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. signals[0].name")
    reason: str


class Error(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str
    request_id: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: Error


# -- tenants and keys ------------------------------------------------------------


class SignUpRequest(Body):
    name: Name
    kind: TenantKind = TenantKind.ENTERPRISE
    tier: Tier = Tier.SHARED


class TenantResponse(BaseModel):
    id: str
    name: str
    kind: TenantKind
    tier: Tier
    create_time: datetime


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
    expire_time: datetime | None = None


# -- production ------------------------------------------------------------------


class CreatePlantRequest(Body):
    name: Name
    location: str = Field("", max_length=2000)
    time_zone: str = Field("UTC", max_length=64, examples=["Europe/Berlin"])


class PlantResponse(BaseModel):
    id: str
    name: str
    location: str
    time_zone: str
    create_time: datetime
    update_time: datetime


# -- products --------------------------------------------------------------------


class SignalDefinitionBody(Body):
    name: str = Field(min_length=1, max_length=64, examples=["spindle_temperature"])
    unit: str = Field("", max_length=32, examples=["Cel"])
    type: str = Field("double", pattern="^(double|integer|boolean)$")
    min_value: float | None = None
    max_value: float | None = None
    description: str = Field("", max_length=2000)


class CreateEquipmentModelRequest(Body):
    name: Name
    manufacturer: str = Field("", max_length=200)
    signals: list[SignalDefinitionBody] = Field(min_length=1, max_length=256)


class EquipmentModelResponse(BaseModel):
    id: str
    name: str
    manufacturer: str
    signals: list[SignalDefinitionBody]
    create_time: datetime
    update_time: datetime


# -- servitization ---------------------------------------------------------------


class OpenTicketRequest(Body):
    equipment_id: str = Field(min_length=1, max_length=36)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    priority: str = Field("medium", pattern="^(low|medium|high|critical)$")


class TicketResponse(BaseModel):
    id: str
    equipment_id: str
    title: str
    description: str
    priority: str
    state: str
    create_time: datetime
    update_time: datetime
