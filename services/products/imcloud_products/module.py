"""How the products service starts: its parts, wired from the settings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from imcloud_core.db import Database
from imcloud_core.events import Topic
from imcloud_core.logging import get_logger
from imcloud_core.outbox import Outbox
from imcloud_core.rpc import Registration
from imcloud_core.service import (
    BackendService,
    Runtime,
    ServiceDefinition,
    SubscriptionSpec,
    build_backend_service,
)
from imcloud_products.api.grpc_servicer import ProductsServicer, register
from imcloud_products.events.publishing import to_outbox_entry
from imcloud_products.events.telemetry import GROUP as TELEMETRY_GROUP
from imcloud_products.events.telemetry import telemetry_handler
from imcloud_products.store.repository import ProductsUnitOfWork
from imcloud_products.store.tables import outbox
from imcloud_products.store.telemetry import SqlTelemetryStore

NAME = "products"
PACKAGE = "imcloud_products"
RETENTION_EVERY_S = 3600.0
log = get_logger(__name__)


def build(runtime: Runtime) -> BackendService:
    settings = runtime.settings.telemetry
    stores: dict[int, SqlTelemetryStore] = {}

    def telemetry_store(db: Database) -> SqlTelemetryStore:
        # One store per database, shared by the servicer, the handler and retention.
        if id(db) not in stores:
            stores[id(db)] = SqlTelemetryStore(
                db,
                retention_days=settings.retention_days,
                rollup_retention_days=settings.rollup_retention_days,
            )
        return stores[id(db)]

    def servicers(db: Database, staged: Outbox) -> list[Registration]:
        servicer = ProductsServicer(
            lambda: ProductsUnitOfWork(db, staged, to_outbox_entry),
            telemetry_store(db),
            offline_after_ms=settings.offline_after_s * 1000,
        )
        return [register(servicer)]

    def subscriptions(db: Database, staged: Outbox) -> list[SubscriptionSpec]:
        handler = telemetry_handler(telemetry_store(db), runtime.require_bus())
        return [
            SubscriptionSpec(
                group=TELEMETRY_GROUP,
                topics=[Topic.TELEMETRY],
                handler=handler,
                max_records=settings.consumer_batch_records,
                members=settings.consumers,
            )
        ]

    def background(db: Database) -> list[Callable[[threading.Event], None]]:
        return [lambda stopping: _retention_loop(telemetry_store(db), stopping)]

    return build_backend_service(
        runtime,
        name=NAME,
        package=PACKAGE,
        outbox_table=outbox,
        servicers=servicers,
        subscriptions=subscriptions,
        background=background,
    )


def _retention_loop(store: SqlTelemetryStore, stopping: threading.Event) -> None:
    while not stopping.is_set():
        try:
            store.apply_retention(int(time.time() * 1000))
        except Exception:
            log.exception("telemetry retention failed; trying again later")
        stopping.wait(RETENTION_EVERY_S)


SERVICE = ServiceDefinition(name=NAME, package=PACKAGE, build=build)
