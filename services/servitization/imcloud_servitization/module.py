"""How the servitization service starts: its parts, wired from the settings."""

from __future__ import annotations

import functools
from collections.abc import Callable

from imcloud_core.db import Database
from imcloud_core.events import Topic
from imcloud_core.ids import utcnow
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
from imcloud_servitization.api.grpc_servicer import ServitizationServicer, register
from imcloud_servitization.clients.placements import MachinePlacements
from imcloud_servitization.clients.production import (
    ProductionOrders,
    ProductionScheduler,
    ProductionShiftKpis,
)
from imcloud_servitization.clients.products import ProductsMachines
from imcloud_servitization.domain.alarms import AlarmEvaluator
from imcloud_servitization.events.alarms import GROUP as ALARMS_GROUP
from imcloud_servitization.events.alarms import alarm_handler, sweep_alarms
from imcloud_servitization.events.handlers import (
    COMMANDS_GROUP,
    anomaly_handler,
    command_progress_handler,
    expire_commands,
    resend_commands,
)
from imcloud_servitization.events.handlers import GROUP as ANOMALY_GROUP
from imcloud_servitization.events.notifications import GROUP as NOTIFICATIONS_GROUP
from imcloud_servitization.events.notifications import (
    NotificationDispatcher,
    dispatch_handler,
)
from imcloud_servitization.events.orders import GROUP as ORDERS_GROUP
from imcloud_servitization.events.orders import work_order_news_handler
from imcloud_servitization.events.publishing import to_outbox_entry
from imcloud_servitization.events.rollout import GROUP as JOBS_GROUP
from imcloud_servitization.events.rollout import desired_applied_handler, roll_out_jobs
from imcloud_servitization.settings import NotificationSettings
from imcloud_servitization.store.repository import ServitizationUnitOfWork
from imcloud_servitization.store.tables import outbox

NAME = "servitization"
# Commands are expired within this long of their expiry.
EXPIRE_EVERY_S = 2.0
# Commands without the machine's receipt are sent again within this long of their due time.
RESEND_EVERY_S = 1.0
# Fleet jobs start their next machines, and follow their commands, this often.
ROLLOUT_EVERY_S = 1.0
# No-data alarms are raised within this long of their silence lasting long enough.
ALARM_SWEEP_EVERY_S = 1.0
# A telemetry batch takes up to tens of milliseconds to judge against a machine's
# rules while alarms flap; a stop waits for the call in hand, so calls stay short.
ALARM_RECORDS_PER_CALL = 50
PACKAGE = "imcloud_servitization"


def unit_of_work(
    db: Database, staged: Outbox | None = None
) -> Callable[[], ServitizationUnitOfWork]:
    """How every part of servitization opens a business transaction; ``staged`` is
    the outbox whose relay this process runs (tools and tests get one of their own)."""
    return functools.partial(ServitizationUnitOfWork, db, staged or Outbox(outbox), to_outbox_entry)


def _wire(
    db: Database,
    staged: Outbox,
    *,
    scheduler: ProductionScheduler,
    production: ProductionOrders,
    machines: ProductsMachines,
    placements: MachinePlacements,
    shift_kpis: ProductionShiftKpis,
    notifications: NotificationSettings,
) -> Wiring:
    transaction = unit_of_work(db, staged)
    alarms = AlarmEvaluator(transaction, placements, shift_kpis)
    # Webhooks and e-mail
    dispatcher = NotificationDispatcher(transaction, notifications)
    return Wiring(
        servicers=[
            register(
                ServitizationServicer(
                    transaction,
                    scheduler=scheduler,
                    machines=machines,
                    production=production,
                    telemetry=machines,
                )
            )
        ],
        subscriptions=[
            SubscriptionSpec(
                group=ANOMALY_GROUP,
                topics=[Topic.EQUIPMENT_EVENTS],
                handler=anomaly_handler(transaction),
            ),
            SubscriptionSpec(
                group=COMMANDS_GROUP,
                topics=[Topic.COMMAND_RESULTS],
                handler=command_progress_handler(transaction),
            ),
            SubscriptionSpec(
                group=JOBS_GROUP,
                topics=[Topic.PRODUCTS_EVENTS],
                handler=desired_applied_handler(transaction),
            ),
            SubscriptionSpec(
                group=ALARMS_GROUP,
                topics=[Topic.TELEMETRY, Topic.EQUIPMENT_EVENTS, Topic.SERVITIZATION_EVENTS],
                handler=alarm_handler(alarms),
                max_records=ALARM_RECORDS_PER_CALL,
            ),
            SubscriptionSpec(
                group=ORDERS_GROUP,
                topics=[Topic.PRODUCTION_EVENTS],
                handler=work_order_news_handler(transaction),
            ),
            # Webhooks and e-mail: every topic a tenant's channels may ask for.
            SubscriptionSpec(
                group=NOTIFICATIONS_GROUP,
                topics=[
                    Topic.EQUIPMENT_EVENTS,
                    Topic.MAINTENANCE,
                    Topic.PRODUCTION_EVENTS,
                    Topic.ORDERS,
                    Topic.SERVITIZATION_EVENTS,
                ],
                handler=dispatch_handler(transaction, on_due=dispatcher.wake),
            ),
        ],
        background=[
            every(
                EXPIRE_EVERY_S,
                "command expiry",
                lambda: expire_commands(transaction, utcnow()),
                run_at_start=False,
            ),
            every(
                RESEND_EVERY_S,
                "command resends",
                lambda: resend_commands(transaction, utcnow()),
                run_at_start=False,
            ),
            every(
                ROLLOUT_EVERY_S,
                "fleet job rollout",
                lambda: roll_out_jobs(transaction, machines, utcnow()),
                run_at_start=False,
            ),
            every(
                ALARM_SWEEP_EVERY_S,
                "no-data and KPI alarms",
                lambda: sweep_alarms(alarms),
                run_at_start=False,
            ),
            # Webhooks and e-mail
            dispatcher.run,
        ],
    )


def build(runtime: Runtime, notifications: NotificationSettings | None = None) -> BackendService:
    endpoint = runtime.settings.grpc_endpoint
    production = open_channel(endpoint("production").target)
    products = open_channel(endpoint("products").target)
    wire = functools.partial(
        _wire,
        scheduler=ProductionScheduler(production),
        production=ProductionOrders(production),
        machines=ProductsMachines(products),
        placements=MachinePlacements(products, production),
        shift_kpis=ProductionShiftKpis(production),
        notifications=notifications or NotificationSettings(),
    )
    return build_backend_service(
        runtime, name=NAME, package=PACKAGE, outbox_table=outbox, wire=wire
    )
