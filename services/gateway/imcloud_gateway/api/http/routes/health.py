"""Liveness, readiness and metrics: what orchestrators and Prometheus call."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from imcloud_gateway.api.http.deps import GatewayDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process serves requests")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the gateway's database, the event bus and every service answer",
    responses={503: {"description": "Something the gateway needs is not reachable"}},
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
    for service in gateway.backends.unhealthy():
        failing[service] = "not serving"
    if failing:
        return JSONResponse({"status": "unavailable", "failing": failing}, status_code=503)
    return JSONResponse({"status": "ok", "failing": {}})


@router.get("/metrics", summary="Prometheus metrics of this process", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
