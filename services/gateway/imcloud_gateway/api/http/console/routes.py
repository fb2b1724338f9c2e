"""The console's pages, its sign-in and sign-out, and its live views.

Every screen is the same page (``shell.html``): its script asks the public REST API
for what it shows, with the session cookie, so the console can do exactly what the
caller's role, tenant and grants allow there and nothing else.
"""

from __future__ import annotations

import asyncio
import html
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from string import Template
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from prometheus_client import Counter as MetricCounter
from prometheus_client import Gauge
from pydantic import BaseModel, Field

from imcloud_core.errors import (
    FieldViolation,
    ImcloudError,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from imcloud_gateway.api.http.console import session
from imcloud_gateway.api.http.deps import GatewayDep, PrincipalDep, limit_anonymous
from imcloud_gateway.api.http.errors import request_id
from imcloud_gateway.api.http.middleware import LIVE_REPEAT_HEADER
from imcloud_gateway.domain import identity
from imcloud_gateway.domain.model import Principal

STATIC = resources.files("imcloud_gateway.api.http.console") / "static"
ASSETS = "/console/assets"
# Same origin only; no inline script or style, so an injected tag cannot run.
CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SCREENS = {
    "/fleet": "fleet",
    "/machines/{equipment_id}": "machine",
    "/production": "production",
    "/service": "service",
    "/maker": "maker",
    "/maker/machines/{equipment_id}": "machine",
    "/admin": "admin",
}
# How often a live view asks again: well inside the 2 s within which new data shows.
LIVE_EVERY_S = 1.0
# A comment line on a quiet view, well inside proxies' idle timeouts (often 60 s).
HEARTBEAT_S = 20.0

SIGN_INS = MetricCounter(
    "imcloud_gateway_console_sign_ins_total", "Console sign-ins, by outcome", ["outcome"]
)
LIVE_STREAMS = Gauge("imcloud_gateway_console_live_streams", "Console live views open now")

router = APIRouter(include_in_schema=False)


def _page(name: str) -> Template:
    return Template((STATIC / name).read_text(encoding="utf-8"))


SHELL = _page("shell.html")
SIGN_IN = _page("sign-in.html")


def _html(body: str, status: int = 200) -> Response:
    response = Response(body, status_code=status, media_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = CONSOLE_CSP
    return response


def _signed_in(request: Request, gateway: GatewayDep) -> Principal | None:
    token = request.cookies.get(session.SESSION_COOKIE)
    if not token:
        return None
    try:
        return identity.authenticate(
            gateway.unit_of_work(),
            presented=token,
            token_secret=gateway.settings.jwt_secret.get_secret_value(),
        )
    except Unauthenticated:
        return None


def _secure(request: Request) -> bool:
    # uvicorn rewrites the scheme from X-Forwarded-Proto for trusted proxies only.
    return request.url.scheme == "https"


@router.get("/")
def home(request: Request, gateway: GatewayDep) -> Response:
    target = "/fleet" if _signed_in(request, gateway) else "/sign-in"
    return RedirectResponse(target, status_code=303)


def _screen_route(path: str, screen: str) -> None:
    def show(request: Request, gateway: GatewayDep) -> Response:
        if _signed_in(request, gateway) is None:
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/sign-in?{urlencode({'next': here})}", status_code=303)
        return _html(SHELL.substitute(screen=screen, assets=ASSETS))

    router.add_api_route(path, show, methods=["GET"], name=f"console {path}")


for _path, _screen in SCREENS.items():
    _screen_route(_path, _screen)


@router.get("/sign-in")
def sign_in_page(
    request: Request, gateway: GatewayDep, next: Annotated[str | None, Query()] = None
) -> Response:
    target = session.local_path(next) or "/fleet"
    if _signed_in(request, gateway) is not None:
        return RedirectResponse(target, status_code=303)
    token = session.new_sign_in_token()
    response = _html(
        SIGN_IN.substitute(assets=ASSETS, sign_in_token=token, next=html.escape(target, quote=True))
    )
    response.set_cookie(
        session.SIGN_IN_COOKIE,
        token,
        max_age=3600,
        path="/console/sign-in",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


class SignInRequest(BaseModel):
    api_key: str = Field(min_length=1, max_length=200)


@router.post("/console/sign-in", status_code=204)
def sign_in(request: Request, body: SignInRequest, gateway: GatewayDep) -> Response:
    limit_anonymous(request, gateway)
    expected = request.cookies.get(session.SIGN_IN_COOKIE)
    if not expected or not session.csrf_matches(request.headers.get(session.CSRF_HEADER), expected):
        SIGN_INS.labels("csrf").inc()
        raise PermissionDenied(
            f"csrf token missing or wrong: sign in from the sign-in page, which sends its "
            f"{session.CSRF_HEADER} header"
        )
    secret = gateway.settings.jwt_secret.get_secret_value()
    try:
        principal = identity.authenticate(
            gateway.unit_of_work(), presented=body.api_key.strip(), token_secret=secret
        )
        token, expire_time = identity.issue_token(
            principal=principal, ttl_s=gateway.settings.console_session_s, token_secret=secret
        )
    except ImcloudError:
        SIGN_INS.labels("refused").inc()
        raise Unauthenticated("this is not an active API key") from None
    request.state.principal = principal  # the audit log records the sign-in
    SIGN_INS.labels("signed_in").inc()
    response = Response(status_code=204)
    response.set_cookie(
        session.SESSION_COOKIE,
        token,
        expires=expire_time,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(session.SIGN_IN_COOKIE, path="/console/sign-in")
    return response


@router.post("/console/sign-out", status_code=204)
def sign_out(request: Request, principal: PrincipalDep) -> Response:
    # PrincipalDep checked the cookie and, this being a POST, its CSRF token.
    response = Response(status_code=204)
    response.delete_cookie(session.SESSION_COOKIE, path="/")
    return response


class SessionResponse(BaseModel):
    tenant_id: str
    tenant_name: str
    role: str
    actor: str
    csrf_token: str


@router.get("/console/session")
def current_session(
    request: Request, principal: PrincipalDep, gateway: GatewayDep
) -> SessionResponse:
    token = request.cookies.get(session.SESSION_COOKIE, "")
    tenant = identity.get_tenant(gateway.unit_of_work(), tenant_id=principal.tenant_id)
    return SessionResponse(
        tenant_id=principal.tenant_id,
        tenant_name=tenant.name,
        role=principal.role.value,
        actor=principal.actor,
        csrf_token=session.csrf_token(token, secret=gateway.settings.jwt_secret.get_secret_value()),
    )


class _OpenStreams:
    """Live views open per credential in this replica, bounded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()

    def take(self, credential_id: str, limit: int) -> None:
        with self._lock:
            if self._open[credential_id] >= limit:
                raise ResourceExhausted(
                    f"this credential already holds {limit} live views; close one",
                    retry_after_s=LIVE_EVERY_S,
                )
            self._open[credential_id] += 1
        LIVE_STREAMS.inc()

    def give_back(self, credential_id: str) -> None:
        LIVE_STREAMS.dec()
        with self._lock:
            self._open[credential_id] -= 1
            if not self._open[credential_id]:
                del self._open[credential_id]


_open_streams = _OpenStreams()


def _live_target(path: str, window_s: int | None) -> str:
    """The REST path a live view asks, with its moving window applied."""
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or not parts.path.startswith("/v1/") or ".." in parts.path:
        raise InvalidArgument(
            "a live view follows a GET of the REST API",
            violations=(FieldViolation("path", "a path starting with /v1/, e.g. /v1/plants"),),
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    if window_s is not None:
        # Time series routes name their range start/end, production's start_time/end_time.
        name = "start" if any(k == "start" for k, _ in query) else "start_time"
        start = datetime.now(UTC) - timedelta(seconds=window_s)
        query = [(k, v) for k, v in query if k != name]
        query.append((name, start.isoformat().replace("+00:00", "Z")))
    return parts.path + (f"?{urlencode(query)}" if query else "")


def _event(kind: str, body: bytes) -> bytes:
    lines = body.decode("utf-8", "replace").splitlines() or [""]
    return (f"event: {kind}\n" + "".join(f"data: {line}\n" for line in lines) + "\n").encode()


@router.get("/console/live")
async def live(
    request: Request,
    principal: PrincipalDep,
    gateway: GatewayDep,
    # Room for GET /v1/twins with its 100 ids (about 5,100 characters).
    path: Annotated[str, Query(max_length=8000)],
    window_s: Annotated[int | None, Query(ge=1, le=86_400)] = None,
) -> StreamingResponse:
    _live_target(path, window_s)  # refuse a bad path before the stream starts
    limit = gateway.settings.console_live_streams_per_credential
    _open_streams.take(principal.credential_id, limit)
    headers = {k: v for k, v in request.headers.items() if k in ("cookie", "authorization")}
    headers["x-request-id"] = request_id(request)

    async def events() -> AsyncIterator[bytes]:
        # Starlette cancels this when the browser goes away; the finally gives back its slot.
        try:
            transport = httpx.ASGITransport(app=request.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
                last: bytes | None = None
                quiet_since = time.monotonic()
                yield b"retry: 2000\n\n"
                while not gateway.stopping.is_set():
                    answer = await client.get(_live_target(path, window_s), headers=headers)
                    headers[LIVE_REPEAT_HEADER] = gateway.live_repeat_mark
                    if answer.status_code >= 400:
                        yield _event("failure", answer.content)
                        if answer.status_code in (401, 403, 404, 422):
                            return  # asking again cannot change the answer
                    elif answer.content != last:
                        last, quiet_since = answer.content, time.monotonic()
                        yield _event("data", answer.content)
                    elif time.monotonic() - quiet_since > HEARTBEAT_S:
                        quiet_since = time.monotonic()
                        yield b": nothing new\n\n"  # keeps proxies from closing it
                    await asyncio.sleep(LIVE_EVERY_S)
        finally:
            _open_streams.give_back(principal.credential_id)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
