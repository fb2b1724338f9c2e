"""How the production service starts: its parts, wired from the settings."""

from __future__ import annotations

import functools
from collections.abc import Callable

from imcloud_core.db import Database
from imcloud_core.events import Topic
from imcloud_core.outbox import Outbox
from imcloud_core.rpc import open_channel
from imcloud_core.service import (
    BackendService,
    Runtime,
    SubscriptionSpec,
    Wiring,
    build_backend_service,
    every,
)
from imcloud_production.api.grpc_servicer import ProductionServicer, register
from imcloud_production.api.metrics import REFRESH_EVERY_S, planning, station_gauges
from imcloud_production.clients.products import ProductsDirectory
from imcloud_production.domain import schedules
from imcloud_production.events.machines import (
    PLACEMENT_GROUP,
    RECIPE_GROUP,
    TELEMETRY_GROUP,
    placement_handler,
    recipe_handler,
    telemetry_handler,
)
from imcloud_production.events.orders import ORDERS_GROUP, order_handler
from imcloud_production.events.publishing import to_outbox_entry
from imcloud_production.settings import SchedulingSettings
from imcloud_production.store.repository import ProductionUnitOfWork
from imcloud_production.store.tables import outbox

NAME = "production"
PACKAGE = "imcloud_production"


def unit_of_work(db: Database, staged: Outbox | None = None) -> Callable[[], ProductionUnitOfWork]:
    """How every part of production opens a business transaction; ``staged`` is
    the outbox whose relay this process runs (tools and tests get one of their own)."""
    return functools.partial(ProductionUnitOfWork, db, staged or Outbox(outbox), to_outbox_entry)


# How often the scheduler looks for plants to plan again after their events.
PLAN_EVERY_S = 1.0


def _wire(
    db: Database, staged: Outbox, *, directory: ProductsDirectory, scheduling: SchedulingSettings
) -> Wiring:
    work = unit_of_work(db, staged)
    return Wiring(
        servicers=[register(ProductionServicer(work, scheduling, recipes=directory))],
        subscriptions=[
            SubscriptionSpec(
                group=PLACEMENT_GROUP,
                topics=[Topic.PRODUCTS_EVENTS],
                handler=placement_handler(work),
            ),
            SubscriptionSpec(
                group=RECIPE_GROUP,
                topics=[Topic.PRODUCTS_EVENTS],
                handler=recipe_handler(work),
            ),
            SubscriptionSpec(
                group=ORDERS_GROUP,
                topics=[Topic.ORDERS],
                handler=order_handler(work),
            ),
            SubscriptionSpec(
                group=TELEMETRY_GROUP,
                topics=[Topic.TELEMETRY],
                handler=telemetry_handler(work, directory),
            ),
        ],
        background=[
            every(REFRESH_EVERY_S, "station OEE gauges", station_gauges(work)),
            every(PLAN_EVERY_S, "plans after events", planning(work, scheduling)),
            every(
                scheduling.watch_every_s,
                "station and progress watch",
                functools.partial(schedules.watch, work, scheduling),
            ),
        ],
    )


def build(runtime: Runtime, scheduling: SchedulingSettings) -> BackendService:
    directory = ProductsDirectory(open_channel(runtime.settings.grpc_endpoint("products").target))
    return build_backend_service(
        runtime,
        name=NAME,
        package=PACKAGE,
        outbox_table=outbox,
        wire=functools.partial(_wire, directory=directory, scheduling=scheduling),
    )
