"""Typed FastAPI dependencies: every route says what it needs in its signature.

``ViewerCall``, ``OperatorCall`` and ``AdminCall`` authenticate the caller, apply
the rate limits, check the role, and give the route the context its gRPC calls
carry to the identity. ``GrantedDep`` does the same for an equipment maker on a
machine a customer granted it (the maker's role must suffice as in its own
tenant); ``PageSize`` and ``PageToken`` page every list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BeforeValidator

from imcloud_core.errors import PermissionDenied, Unauthenticated
from imcloud_core.rpc import CallContext
from imcloud_gateway.api.http.console import session
from imcloud_gateway.api.http.context import HttpContext
from imcloud_gateway.api.http.errors import request_id
from imcloud_gateway.domain import devices, grants, identity
from imcloud_gateway.domain.model import AccessGrant, DevicePrincipal, Principal, Role, Scope

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
    secret = gateway.settings.jwt_secret.get_secret_value()
    if credentials is not None:
        presented = credentials.credentials
    else:
        presented = _console_session(request, secret)
    principal = identity.authenticate(
        gateway.unit_of_work(), presented=presented, token_secret=secret
    )
    # The audit middleware reads who acted from here.
    request.state.principal = principal
    gateway.credential_limits.take(principal.credential_id, what="this credential")
    gateway.tenant_limits.take(principal.tenant_id, what="this tenant")
    return principal


PrincipalDep = Annotated[Principal, Depends(_principal)]


def _console_session(request: Request, secret: str) -> str:
    """The token of the console's session cookie, CSRF-checked for a change."""
    token = request.cookies.get(session.SESSION_COOKIE)
    if not token:
        raise Unauthenticated(
            "no credential: send 'Authorization: Bearer <API key or token>' "
            "(or sign in to the console)"
        )
    if request.method not in session.SAFE_METHODS and not session.csrf_matches(
        request.headers.get(session.CSRF_HEADER), session.csrf_token(token, secret=secret)
    ):
        raise PermissionDenied(
            f"csrf token missing or wrong: a change made with the console's session cookie "
            f"needs the {session.CSRF_HEADER} header of that session"
        )
    return token


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


@dataclass(frozen=True)
class GrantedAccess:
    """An equipment maker acting in the tenant of a customer that granted it a machine.

    The route asks for the grant, so FastAPI has validated the request by then:
    a malformed request is refused before any grant is looked up.
    """

    request: Request
    principal: Principal
    gateway: HttpContext

    def grant(self, equipment_id: str, scope: Scope) -> AccessGrant:
        """The active grant that covers ``scope`` on the machine (else 404)."""
        return grants.grant_covering(
            self.gateway.unit_of_work(),
            principal=self.principal,
            equipment_id=equipment_id,
            scope=scope,
        )

    def via(self, grant: AccessGrant) -> CallContext:
        """Acts in the owner's tenant, and marks the request for the audit log."""
        self.request.state.grant = grant
        return CallContext(
            tenant_id=grant.tenant_id,
            actor=f"{self.principal.actor}@{self.principal.tenant_id}",
            request_id=request_id(self.request),
        )

    def context(self, equipment_id: str, scope: Scope) -> CallContext:
        return self.via(self.grant(equipment_id, scope))


# A grant opens reads, sending commands and changing the desired state only; in the
# caller's own tenant a read needs a viewer and a change an operator, and a grant
# lends no more than that.
_GRANTED_ROLE = {"GET": Role.VIEWER, "POST": Role.OPERATOR, "PATCH": Role.OPERATOR}


def _granted(request: Request, principal: PrincipalDep, gateway: GatewayDep) -> GrantedAccess:
    identity.require_role(principal, _GRANTED_ROLE[request.method])
    return GrantedAccess(request, principal, gateway)


GrantedDep = Annotated[GrantedAccess, Depends(_granted)]

PageSize = Annotated[int, Query(ge=1, le=500, description="At most this many items")]
PageToken = Annotated[
    str, Query(max_length=1000, description="next_page_token of the previous page")
]


def _written_time(value: object) -> object:
    # pydantic would read "0.5" as seconds since 1970; a time in a query is
    # written as RFC 3339, as the document says.
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        raise ValueError("a date-time such as 2026-12-01T08:00:00Z, not a number")
    return value


_NUMBER = re.compile(r"[-+]?\d+(\.\d*)?([eE][-+]?\d+)?")
# A time in a query: RFC 3339 with its offset.
QueryTime = Annotated[AwareDatetime, BeforeValidator(_written_time)]
