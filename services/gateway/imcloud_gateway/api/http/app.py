"""The gateway's REST application."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, Response
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from imcloud_gateway.api.http.console import routes as console
from imcloud_gateway.api.http.context import HttpContext
from imcloud_gateway.api.http.errors import error_example, install_error_handlers
from imcloud_gateway.api.http.middleware import DOCS_ASSETS, install_middleware
from imcloud_gateway.api.http.routes import (
    access,
    alarms,
    audit,
    calendar,
    commands,
    customization,
    devices,
    export,
    health,
    health_monitoring,
    jobs,
    performance,
    production,
    products,
    schedules,
    servitization,
    telemetry,
    tenants,
    webhooks,
    work_orders,
)

DESCRIPTION = """
The public API of imcloud, the intelligent manufacturing cloud platform.

Sign up with `POST /v1/tenants` to get an owner API key, then send it as
`Authorization: Bearer <key>` on every other call. Every error has the same
body: `{"error": {"code", "message", "request_id", "details"}}`.
"""


def create_app(gateway: HttpContext) -> FastAPI:
    # Swagger UI and ReDoc from the package, not a CDN: plant networks often have
    # no way out to the internet.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        title="imcloud API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "tenants", "description": "Sign-up, tenants and API keys"},
            {
                "name": "production",
                "description": "Plants, lines and stations; calendars, products, work orders, "
                "state timelines, stops, quality and OEE",
            },
            {"name": "products", "description": "Equipment models and equipment"},
            {"name": "devices", "description": "Credentials machines use on the device link"},
            {"name": "telemetry", "description": "Sending telemetry; twins and time series"},
            {"name": "health", "description": "Anomaly episodes and equipment health"},
            {"name": "access", "description": "Access grants for equipment makers"},
            {"name": "servitization", "description": "Maintenance and remote services"},
            {
                "name": "customization",
                "description": "Product families and their configurator, quotes, customer "
                "orders and their status for the customer",
            },
            {"name": "audit", "description": "The tenant's audit log"},
            {"name": "operations", "description": "Health and readiness"},
        ],
    )
    app.state.gateway = gateway
    install_error_handlers(app)
    install_middleware(app, gateway)
    for module in (
        health,
        tenants,
        production,
        calendar,
        work_orders,
        schedules,
        performance,
        products,
        devices,
        telemetry,
        export,
        health_monitoring,
        access,
        servitization,
        commands,
        jobs,
        customization,
        audit,
        # Alarms and notifications
        webhooks,
        alarms,
    ):
        app.include_router(module.router)
    _serve_redoc_without_its_cdn_logo(app)
    app.include_router(console.router)
    app.mount(
        console.ASSETS,
        StaticFiles(packages=[("imcloud_gateway.api.http.console", "static")]),
        name="console-assets",
    )
    app.openapi = lambda: _openapi_with_one_error_shape(app)  # type: ignore[method-assign]
    return app


REDOC_BUNDLE = "redoc.standalone.js"
# ReDoc's sidebar always shows Redocly's logo from a CDN: on a plant network the
# request fails (and the CSP refuses it, a console error). An empty data: image
# fails at once, and ReDoc then leaves the logo out.
REDOC_CDN_LOGO = b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'


def _serve_redoc_without_its_cdn_logo(app: FastAPI) -> None:
    bundle = (resources.files("fastapi_offline") / "static" / REDOC_BUNDLE).read_bytes()
    if REDOC_CDN_LOGO not in bundle:
        raise RuntimeError(f"fastapi_offline's {REDOC_BUNDLE} changed: check its CDN logo")
    patched = bundle.replace(REDOC_CDN_LOGO, b'src:"data:,"')

    def redoc_bundle() -> Response:
        return Response(patched, media_type="text/javascript; charset=utf-8")

    app.add_api_route(f"{DOCS_ASSETS}/{REDOC_BUNDLE}", redoc_bundle, include_in_schema=False)
    # Ahead of the assets' mount, which would otherwise answer first.
    app.router.routes.insert(0, app.router.routes.pop())


def _openapi_with_one_error_shape(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with FastAPI's own 422 body replaced by ours.

    FastAPI documents request validation errors with its HTTPValidationError
    schema; the gateway answers them with the same ErrorResponse as every other
    error, and the document must say so. Routes with a body also document the
    answers to malformed and oversize bodies.
    """
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for item in document["paths"].values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            invalid = responses.get("422")
            if invalid is not None:
                invalid["content"] = error_body
                invalid["description"] = "The request is not valid; details name the fields"
            if "requestBody" in operation:
                # Every route with a body can meet these before its own code runs.
                responses["400"] = {"description": "The body is not JSON", "content": error_body}
                responses["413"] = {
                    "description": "The body exceeds the size limit",
                    "content": error_body,
                }
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {}).get("application/json", {})
                if content.get("schema") == error_body["application/json"]["schema"]:
                    # A copy: the 400, 413 and 422 entries share error_body.
                    response["content"] = {
                        "application/json": {**content, "example": error_example(int(status))}
                    }
    schemas = document["components"]["schemas"]
    for fastapi_own in ("HTTPValidationError", "ValidationError"):
        schemas.pop(fastapi_own, None)
    app.openapi_schema = document
    return document
