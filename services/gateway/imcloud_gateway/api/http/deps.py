"""Typed FastAPI dependencies: every route says what it needs in its signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from imcloud_core.errors import Unauthenticated
from imcloud_core.rpc import CallContext
from imcloud_gateway.api.context import GatewayContext
from imcloud_gateway.api.http.errors import request_id
from imcloud_gateway.domain import services
from imcloud_gateway.domain.model import Principal

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key (imk_...) or a token issued from one.",
)


def _gateway(request: Request) -> GatewayContext:
    context: GatewayContext = request.app.state.gateway
    return context


GatewayDep = Annotated[GatewayContext, Depends(_gateway)]


def _principal(
    gateway: GatewayDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated("no credential: send 'Authorization: Bearer <API key>'")
    return services.authenticate_api_key(gateway.unit_of_work(), presented=credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(_principal)]


def _call_context(request: Request, principal: PrincipalDep) -> CallContext:
    return CallContext(
        tenant_id=principal.tenant_id, actor=principal.actor, request_id=request_id(request)
    )


CallContextDep = Annotated[CallContext, Depends(_call_context)]
