"""Typed FastAPI dependencies: every route says what it needs in its signature.

``ViewerCall``, ``OperatorCall`` and ``AdminCall`` authenticate the caller, apply
the rate limits, check the role, and give the route the context its gRPC calls
carry to the identity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from imcloud_core.errors import Unauthenticated
from imcloud_core.rpc import CallContext
from imcloud_gateway.api.http.context import HttpContext
from imcloud_gateway.api.http.errors import request_id
from imcloud_gateway.domain import devices, identity
from imcloud_gateway.domain.model import DevicePrincipal, Principal, Role

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key (imk_...) or a token from POST /v1/tokens.",
)
_device_bearer = HTTPBearer(
    scheme_name="DeviceCredential",
    auto_error=False,
    description="A machine's device credential (imd_...).",
)


def _gateway(request: Request) -> HttpContext:
    context: HttpContext = request.app.state.gateway
    return context


GatewayDep = Annotated[HttpContext, Depends(_gateway)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _principal(
    request: Request,
    gateway: GatewayDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated("no credential: send 'Authorization: Bearer <API key or token>'")
    principal = identity.authenticate(
        gateway.unit_of_work(),
        presented=credentials.credentials,
        token_secret=gateway.settings.jwt_secret.get_secret_value(),
    )
    # The audit middleware reads who acted from here.
    request.state.principal = principal
    gateway.credential_limits.take(principal.credential_id, what="this credential")
    gateway.tenant_limits.take(principal.tenant_id, what="this tenant")
    return principal


PrincipalDep = Annotated[Principal, Depends(_principal)]


def limit_anonymous(request: Request, gateway: GatewayDep) -> None:
    gateway.anonymous_limits.take(client_address(request), what="requests without a credential")


def _caller(required: Role) -> Callable[[Request, Principal], CallContext]:
    def dependency(request: Request, principal: PrincipalDep) -> CallContext:
        identity.require_role(principal, required)
        return CallContext(
            tenant_id=principal.tenant_id, actor=principal.actor, request_id=request_id(request)
        )

    return dependency


ViewerCall = Annotated[CallContext, Depends(_caller(Role.VIEWER))]
OperatorCall = Annotated[CallContext, Depends(_caller(Role.OPERATOR))]
AdminCall = Annotated[CallContext, Depends(_caller(Role.ADMIN))]


def _device(
    gateway: GatewayDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_device_bearer)],
) -> DevicePrincipal:
    if credentials is None:
        raise Unauthenticated("no device credential: send 'Authorization: Bearer imd_...'")
    device = devices.authenticate_device(gateway.unit_of_work(), presented=credentials.credentials)
    gateway.credential_limits.take(device.credential_id, what="this device credential")
    return device


DeviceDep = Annotated[DevicePrincipal, Depends(_device)]
