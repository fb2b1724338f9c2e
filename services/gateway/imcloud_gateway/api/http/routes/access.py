"""Access grants (enterprise side) and granted equipment (equipment-maker side)."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from imcloud.products.v1 import products_service_pb2 as pb
from imcloud_core.ids import utcnow
from imcloud_gateway.api.http.deps import GatewayDep, GrantedDep, PageSize, PageToken, PrincipalDep
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.routes.jobs import stop_jobs_of_ended_grant
from imcloud_gateway.api.http.routes.products import equipment_body
from imcloud_gateway.api.http.schemas.access import (
    AccessGrantResponse,
    CreateAccessGrantRequest,
    GrantedEquipmentResponse,
)
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.domain import grants
from imcloud_gateway.domain.model import AccessGrant, Scope

router = APIRouter(tags=["access"])


def grant_body(grant: AccessGrant) -> AccessGrantResponse:
    return AccessGrantResponse(
        id=grant.id,
        owner_tenant_id=grant.tenant_id,
        grantee_tenant_id=grant.grantee_tenant_id,
        equipment_id=grant.equipment_id,
        scopes=sorted(grant.scopes),
        create_time=grant.create_time,
        expire_time=grant.expire_time,
        revoke_time=grant.revoke_time,
        active=grant.active_at(utcnow()),
    )


@router.post(
    "/v1/access-grants",
    status_code=status.HTTP_201_CREATED,
    summary="Grant an equipment maker access to one of your machines",
    responses=error_responses(401, 403, 422, 429, 503),
)
def create_grant(
    body: CreateAccessGrantRequest, principal: PrincipalDep, gateway: GatewayDep
) -> AccessGrantResponse:
    grant = grants.grant_access(
        gateway.unit_of_work(),
        gateway.equipment_directory,
        principal=principal,
        grantee_tenant_id=body.grantee_tenant_id,
        equipment_id=body.equipment_id,
        scopes=frozenset(body.scopes),
        expire_time=body.expire_time,
    )
    return grant_body(grant)


@router.get(
    "/v1/access-grants",
    summary="List the grants you gave",
    responses=error_responses(401, 403, 422, 429),
)
def list_grants(
    principal: PrincipalDep,
    gateway: GatewayDep,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[AccessGrantResponse]:
    given, token = grants.list_given_grants(
        gateway.unit_of_work(),
        principal=principal,
        requested_page_size=page_size,
        page_token=page_token,
    )
    return Page(items=[grant_body(g) for g in given], next_page_token=token)


@router.post(
    "/v1/access-grants/{grant_id}:revoke",
    summary="Revoke a grant",
    description="The equipment maker loses access at once, and its fleet jobs never start "
    "the machine. Revoking again repeats the latter (after a 503).",
    responses=error_responses(401, 403, 404, 429, 503),
)
def revoke_grant(
    grant_id: str, request: Request, principal: PrincipalDep, gateway: GatewayDep
) -> AccessGrantResponse:
    revoked = grants.revoke_grant(gateway.unit_of_work(), principal=principal, grant_id=grant_id)
    stop_jobs_of_ended_grant(gateway, request, principal, revoked)
    return grant_body(revoked)


@router.get(
    "/v1/granted-equipment",
    summary="(Equipment makers) the machines your customers granted you",
    description="Active grants only, across all customers.",
    responses=error_responses(401, 422, 429, 503),
)
def list_granted_equipment(
    principal: PrincipalDep,
    granted: GrantedDep,
    gateway: GatewayDep,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[GrantedEquipmentResponse]:
    received, token = grants.list_received_grants(
        gateway.unit_of_work(),
        principal=principal,
        requested_page_size=page_size,
        page_token=page_token,
    )
    items = []
    for grant in received:
        if Scope.TWIN_READ not in grant.scopes and Scope.TELEMETRY_READ not in grant.scopes:
            continue
        response = gateway.call(
            gateway.backends.products.GetEquipment,
            pb.GetEquipmentRequest(equipment_id=grant.equipment_id),
            granted.via(grant),
        )
        items.append(
            GrantedEquipmentResponse(
                grant=grant_body(grant), equipment=equipment_body(response.equipment)
            )
        )
    return Page(items=items, next_page_token=token)


@router.get(
    "/v1/granted-equipment/{equipment_id}",
    summary="(Equipment makers) one machine a customer granted you",
    responses=error_responses(401, 404, 429, 503),
)
def get_granted_equipment(
    equipment_id: str, granted: GrantedDep, gateway: GatewayDep
) -> GrantedEquipmentResponse:
    grant = granted.grant(equipment_id, Scope.TWIN_READ)
    response = gateway.call(
        gateway.backends.products.GetEquipment,
        pb.GetEquipmentRequest(equipment_id=equipment_id),
        granted.via(grant),
    )
    return GrantedEquipmentResponse(
        grant=grant_body(grant), equipment=equipment_body(response.equipment)
    )
