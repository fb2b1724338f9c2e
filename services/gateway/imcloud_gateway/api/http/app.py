"""The gateway's REST application."""

from __future__ import annotations

from fastapi import FastAPI

from imcloud_gateway.api.context import GatewayContext
from imcloud_gateway.api.http.errors import install_error_handlers
from imcloud_gateway.api.http.middleware import install_middleware
from imcloud_gateway.api.http.routes import (
    access,
    audit,
    devices,
    health,
    production,
    products,
    servitization,
    tenants,
)

DESCRIPTION = """
The public API of imcloud, the intelligent manufacturing cloud platform.

Sign up with `POST /v1/tenants` to get an owner API key, then send it as
`Authorization: Bearer <key>` on every other call. Every error has the same
body: `{"error": {"code", "message", "request_id", "details"}}`.
"""


def create_app(gateway: GatewayContext) -> FastAPI:
    app = FastAPI(
        title="imcloud API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "tenants", "description": "Sign-up, tenants and API keys"},
            {"name": "production", "description": "Plants, lines and stations"},
            {"name": "products", "description": "Equipment models and equipment"},
            {"name": "devices", "description": "Credentials machines use on the device link"},
            {"name": "access", "description": "Access grants for equipment makers"},
            {"name": "servitization", "description": "Maintenance and remote services"},
            {"name": "audit", "description": "The tenant's audit log"},
            {"name": "operations", "description": "Health and readiness"},
        ],
    )
    app.state.gateway = gateway
    install_error_handlers(app)
    install_middleware(app, gateway)
    for module in (health, tenants, production, products, devices, access, servitization, audit):
        app.include_router(module.router)
    return app
