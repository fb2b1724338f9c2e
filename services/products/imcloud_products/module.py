"""How the products service starts: its parts, wired from the settings."""

from __future__ import annotations

from imcloud_core.db import Database
from imcloud_core.outbox import Outbox
from imcloud_core.rpc import Registration
from imcloud_core.service import (
    BackendService,
    Runtime,
    ServiceDefinition,
    build_backend_service,
)
from imcloud_products.api.grpc_servicer import ProductsServicer, register
from imcloud_products.events.publishing import to_outbox_entry
from imcloud_products.store.repository import ProductsUnitOfWork
from imcloud_products.store.tables import outbox

NAME = "products"
PACKAGE = "imcloud_products"


def _servicers(db: Database, staged: Outbox) -> list[Registration]:
    return [register(ProductsServicer(lambda: ProductsUnitOfWork(db, staged, to_outbox_entry)))]


def build(runtime: Runtime) -> BackendService:
    return build_backend_service(
        runtime, name=NAME, package=PACKAGE, outbox_table=outbox, servicers=_servicers
    )


SERVICE = ServiceDefinition(name=NAME, package=PACKAGE, build=build)
