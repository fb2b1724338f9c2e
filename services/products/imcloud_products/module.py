"""How the products service starts: its parts, wired from the settings."""

from __future__ import annotations

import functools
from collections.abc import Callable

from imcloud_core.db import Database
from imcloud_core.events import Topic
from imcloud_core.ids import now_ms
from imcloud_core.logging import get_logger
from imcloud_core.outbox import Outbox
from imcloud_core.service import (
    BackendService,
    Runtime,
    SubscriptionSpec,
    Wiring,
    build_backend_service,
    every,
)
from imcloud_products.api.grpc_servicer import ProductsServicer, register
from imcloud_products.domain import services
from imcloud_products.domain.anomaly import DetectorConfig
from imcloud_products.events.publishing import to_outbox_entry
from imcloud_products.events.telemetry import GROUP as TELEMETRY_GROUP
from imcloud_products.events.telemetry import telemetry_handler
from imcloud_products.settings import TelemetrySettings
from imcloud_products.store.monitoring import ModelSignals, SqlHealthReader
from imcloud_products.store.repository import ProductsUnitOfWork, SqlTelemetryUnitOfWork
from imcloud_products.store.tables import outbox
from imcloud_products.store.telemetry import SqlTelemetryStore

NAME = "products"
PACKAGE = "imcloud_products"
RETENTION_EVERY_S = 3600.0
SWEEP_EVERY_S = 10.0
log = get_logger(__name__)


def unit_of_work(db: Database, staged: Outbox | None = None) -> Callable[[], ProductsUnitOfWork]:
    """How every part of products opens a business transaction; ``staged`` is the
    outbox whose relay this process runs (tools and tests get one of their own)."""
    return functools.partial(ProductsUnitOfWork, db, staged or Outbox(outbox), to_outbox_entry)


def telemetry_unit_of_work(
    store: SqlTelemetryStore, signals: ModelSignals, staged: Outbox | None = None
) -> Callable[[], SqlTelemetryUnitOfWork]:
    """The same for the telemetry path, on the store's plain connections."""
    return functools.partial(
        SqlTelemetryUnitOfWork, store, signals, staged or Outbox(outbox), to_outbox_entry
    )


def build(runtime: Runtime, settings: TelemetrySettings) -> BackendService:

    def wire(db: Database, staged: Outbox) -> Wiring:
        store = SqlTelemetryStore(
            db,
            retention_days=settings.retention_days,
            rollup_retention_days=settings.rollup_retention_days,
        )
        telemetry_transaction = telemetry_unit_of_work(store, ModelSignals(), staged)
        servicer = ProductsServicer(
            unit_of_work(db, staged),
            store,
            health=SqlHealthReader(db),
            telemetry_unit_of_work=telemetry_transaction,
            offline_after_ms=settings.offline_after_s * 1000,
        )
        telemetry = SubscriptionSpec(
            group=TELEMETRY_GROUP,
            topics=[Topic.TELEMETRY],
            handler=telemetry_handler(telemetry_transaction, config=DetectorConfig()),
            max_records=settings.consumer_batch_records,
            members=settings.consumers,
        )
        return Wiring(
            servicers=[register(servicer)],
            subscriptions=[telemetry],
            background=[
                every(
                    RETENTION_EVERY_S,
                    "telemetry retention",
                    lambda: store.apply_retention(now_ms()),
                ),
                every(
                    SWEEP_EVERY_S,
                    "connectivity sweep",
                    lambda: services.sweep_health(
                        telemetry_transaction(),
                        now_ms=now_ms(),
                        offline_after_ms=settings.offline_after_s * 1000,
                    ),
                ),
            ],
        )

    return build_backend_service(
        runtime, name=NAME, package=PACKAGE, outbox_table=outbox, wire=wire
    )
