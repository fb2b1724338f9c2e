"""Liveness and readiness: what orchestrators call (metrics have a port of their own)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from imcloud_gateway.api.http.deps import GatewayDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process serves requests")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the gateway's database and the event bus answer",
    description=(
        "Services behind the gateway are reported under `degraded` but do not make the "
        "gateway unready: one service's outage must not take the whole API (and every "
        "device link) out of the load balancer."
    ),
    responses={503: {"description": "Something the gateway itself needs is not reachable"}},
)
def readyz(gateway: GatewayDep) -> JSONResponse:
    failing: dict[str, str] = {}
    try:
        gateway.db.ping()
    except Exception as exc:
        failing["database"] = type(exc).__name__
    try:
        gateway.bus.ping()
    except Exception as exc:
        failing["bus"] = type(exc).__name__
    if gateway.streams.full():
        failing["device_link"] = f"all {gateway.streams.capacity} device streams are taken"
    degraded = {service: "not serving" for service in gateway.backends.unhealthy()}
    if failing:
        body = {"status": "unavailable", "failing": failing, "degraded": degraded}
        return JSONResponse(body, status_code=503)
    return JSONResponse(
        {"status": "degraded" if degraded else "ok", "failing": {}, "degraded": degraded}
    )
