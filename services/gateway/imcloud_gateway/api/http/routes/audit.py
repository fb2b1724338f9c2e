"""The tenant's audit log, for its admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from imcloud_gateway.api.http.deps import (
    GatewayDep,
    PageSize,
    PageToken,
    PrincipalDep,
    QueryTime,
)
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.schemas.access import AuditEventResponse
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.domain import audit

router = APIRouter(tags=["audit"])


@router.get(
    "/v1/audit-events",
    summary="Who changed what, and every access by equipment makers, newest first",
    responses=error_responses(401, 403, 422, 429),
)
def list_audit_events(
    principal: PrincipalDep,
    gateway: GatewayDep,
    actor: Annotated[str, Query(max_length=100, description="e.g. key:<id>")] = "",
    action: Annotated[str, Query(max_length=200, description="e.g. POST /v1/plants")] = "",
    since: Annotated[QueryTime | None, Query(description="From this time on")] = None,
    until: Annotated[QueryTime | None, Query(description="Before this time")] = None,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[AuditEventResponse]:
    events, token = audit.list_events(
        gateway.unit_of_work(),
        principal=principal,
        actor=actor,
        action=action,
        since=since,
        until=until,
        requested_page_size=page_size,
        page_token=page_token,
    )
    return Page(
        items=[AuditEventResponse(**{**e.__dict__, "succeeded": e.succeeded}) for e in events],
        next_page_token=token,
    )
