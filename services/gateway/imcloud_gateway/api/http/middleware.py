"""Cross-cutting HTTP concerns: request ids, access metrics, security headers."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import Counter, Histogram
from starlette.routing import Match

from imcloud_core.logging import bound_context

HTTP_REQUESTS = Counter(
    "imcloud_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "imcloud_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"]
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
}
# /docs loads Swagger UI from a CDN and runs inline scripts; the API itself needs nothing.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _route_template(request: Request) -> str:
    # Label by template (/v1/plants/{plant_id}), not by path, to bound cardinality.
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


def install_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        offered = request.headers.get("x-request-id", "")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        request.state.request_id = request_id
        route = _route_template(request)
        started = time.perf_counter()
        with bound_context(request_id=request_id):
            response = await call_next(request)
        HTTP_SECONDS.labels(request.method, route).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        response.headers["X-Request-ID"] = request_id
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        if not request.url.path.startswith("/docs"):
            response.headers.setdefault("Content-Security-Policy", API_CSP)
        return response
