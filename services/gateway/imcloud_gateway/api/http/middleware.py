"""Cross-cutting HTTP concerns: request ids, access metrics, security headers,
body size limits, CORS, and the audit log."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import Counter, Histogram
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imcloud_core.errors import ErrorCode
from imcloud_core.ids import new_id, utcnow
from imcloud_core.logging import bound_context, get_logger
from imcloud_gateway.api.http.context import HttpContext
from imcloud_gateway.api.http.errors import error_response
from imcloud_gateway.domain import audit
from imcloud_gateway.domain.model import AccessGrant, AuditEvent, Principal

log = get_logger(__name__)

HTTP_REQUESTS = Counter(
    "imcloud_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "imcloud_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"]
)
AUDIT_FAILURES = Counter(
    "imcloud_audit_write_failures_total", "Audit events that could not be stored"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc load their assets from here and start with inline scripts;
# ReDoc renders in a worker it makes from a blob.
DOCS_PAGES = ("/docs", "/redoc")
DOCS_ASSETS = "/docs/assets"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'"
)
# A live view's reads after its first (console/routes.py); GETs only.
LIVE_REPEAT_HEADER = "X-Imcloud-Live-Repeat"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _route_template(request: Request) -> str:
    # Label by template (/v1/plants/{plant_id}), not by path, to bound cardinality;
    # the router records the route it matched in the scope.
    return str(getattr(request.scope.get("route"), "path", "unmatched"))


class BodySizeLimit:
    """Stops reading a request body once it passes the limit (413), whatever the
    Content-Length said (a chunked body declares none); the route's error handler
    answers."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # An HTTPException, because FastAPI turns any other error raised while it
        # reads the body into "400 There was an error parsing the body".
        too_large = HTTPException(413, f"the request body exceeds {self.max_bytes} bytes")
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise too_large
            return message

        await self.app(scope, counting_receive, send)


def _audit_events(request: Request, route: str, status: int) -> list[AuditEvent]:
    """What to record for this request: state changes, and every access via a grant."""
    principal: Principal | None = getattr(request.state, "principal", None)
    grant: AccessGrant | None = getattr(request.state, "grant", None)
    signed_up: str = getattr(request.state, "signed_up_tenant_id", "")
    if request.method not in STATE_CHANGING and grant is None:
        return []
    actor, actor_tenant = ("signup", signed_up)
    if principal is not None:
        actor, actor_tenant = principal.actor, principal.tenant_id
    if not actor_tenant:
        return []  # unauthenticated and not a sign-up: nobody's log; counted as errors
    common = {
        "time": utcnow(),
        "actor": actor,
        "actor_tenant_id": actor_tenant,
        "action": f"{request.method} {route}",
        "resource": request.url.path[:500],
        "status": status,
        "source_ip": request.client.host if request.client else "",
        "request_id": request.state.request_id,
        "grant_id": grant.id if grant is not None else "",
    }
    events = [AuditEvent(id=new_id(), tenant_id=actor_tenant, **common)]
    if grant is not None:
        # The owner sees every access to its machine; the maker sees its own actions.
        events.append(AuditEvent(id=new_id(), tenant_id=grant.tenant_id, **common))
    return events


def _declared_length(request: Request) -> int:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else 0


def install_middleware(app: FastAPI, gateway: HttpContext) -> None:
    settings = gateway.settings
    # Inside `observe`: its receive runs in a task group, which would wrap the 413
    # in an exception group that FastAPI answers with 400.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        offered = request.headers.get("x-request-id", "")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        with bound_context(request_id=request_id):
            if _declared_length(request) > settings.max_request_bytes:
                response: Response = error_response(
                    request,
                    status=413,
                    code=ErrorCode.PAYLOAD_TOO_LARGE.value,
                    message=f"the request body exceeds {settings.max_request_bytes} bytes",
                )
            else:
                response = await call_next(request)
            route = _route_template(request)
            repeat = request.headers.get(LIVE_REPEAT_HEADER) == gateway.live_repeat_mark
            events = [] if repeat else _audit_events(request, route, response.status_code)
            if events:
                try:
                    await run_in_threadpool(audit.record, gateway.unit_of_work(), events)
                except Exception:
                    AUDIT_FAILURES.inc()
                    log.exception("audit event not stored", action=events[0].action)
        HTTP_SECONDS.labels(request.method, route).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        response.headers["X-Request-ID"] = request_id
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        docs = request.url.path.startswith(DOCS_PAGES)
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else API_CSP)
        return response

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            # X-Order-Key: a shop's page shows its customer the order's status.
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "X-Order-Key"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
