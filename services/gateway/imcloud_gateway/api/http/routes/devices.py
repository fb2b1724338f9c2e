"""Device credentials: issued per machine, listed, rotated, revoked."""

from __future__ import annotations

from fastapi import APIRouter, status

from imcloud_gateway.api.http.deps import GatewayDep, PageSize, PageToken, PrincipalDep
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.schemas.access import (
    DeviceCredentialResponse,
    IssuedDeviceCredentialResponse,
)
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.domain import devices
from imcloud_gateway.domain.model import DeviceCredential

router = APIRouter(tags=["devices"])
BASE = "/v1/equipment/{equipment_id}/credentials"


def credential_body(credential: DeviceCredential) -> DeviceCredentialResponse:
    return DeviceCredentialResponse(
        id=credential.id,
        equipment_id=credential.equipment_id,
        create_time=credential.create_time,
        rotate_time=credential.rotate_time,
        revoke_time=credential.revoke_time,
    )


def issued_body(credential: DeviceCredential, secret: str) -> IssuedDeviceCredentialResponse:
    return IssuedDeviceCredentialResponse(**credential_body(credential).model_dump(), secret=secret)


@router.post(
    BASE,
    status_code=status.HTTP_201_CREATED,
    summary="Issue a credential for a machine",
    description="The secret is shown only once; the machine presents it on the device link.",
    responses=error_responses(401, 403, 404, 429, 503),
)
def issue_credential(
    equipment_id: str, principal: PrincipalDep, gateway: GatewayDep
) -> IssuedDeviceCredentialResponse:
    credential, secret = devices.issue_device_credential(
        gateway.unit_of_work(),
        gateway.equipment_directory,
        principal=principal,
        equipment_id=equipment_id,
    )
    return issued_body(credential, secret)


@router.get(
    BASE,
    summary="List a machine's credentials (never their secrets)",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def list_credentials(
    equipment_id: str,
    principal: PrincipalDep,
    gateway: GatewayDep,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[DeviceCredentialResponse]:
    credentials, token = devices.list_device_credentials(
        gateway.unit_of_work(),
        gateway.equipment_directory,
        principal=principal,
        equipment_id=equipment_id,
        requested_page_size=page_size,
        page_token=page_token,
    )
    return Page(items=[credential_body(c) for c in credentials], next_page_token=token)


@router.post(
    BASE + "/{credential_id}:rotate",
    summary="Give a credential a new secret",
    description="The old secret stops working at once; the new one is shown only once.",
    responses=error_responses(401, 403, 404, 409, 429),
)
def rotate_credential(
    equipment_id: str, credential_id: str, principal: PrincipalDep, gateway: GatewayDep
) -> IssuedDeviceCredentialResponse:
    credential, secret = devices.rotate_device_credential(
        gateway.unit_of_work(),
        principal=principal,
        equipment_id=equipment_id,
        credential_id=credential_id,
    )
    gateway.streams.close(credential.id)  # streams opened with the old secret
    return issued_body(credential, secret)


@router.post(
    BASE + "/{credential_id}:revoke",
    summary="Revoke a credential",
    description="The machine's open device-link streams using it are closed.",
    responses=error_responses(401, 403, 404, 429),
)
def revoke_credential(
    equipment_id: str, credential_id: str, principal: PrincipalDep, gateway: GatewayDep
) -> DeviceCredentialResponse:
    credential = devices.revoke_device_credential(
        gateway.unit_of_work(),
        principal=principal,
        equipment_id=equipment_id,
        credential_id=credential_id,
    )
    gateway.streams.close(credential.id)
    return credential_body(credential)
