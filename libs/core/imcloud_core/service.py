"""The runtime shape every imcloud service shares.

A service is a database, a gRPC server, some event subscriptions and an outbox
relay; ``BackendService`` starts them in that order and stops them in reverse, so
that each service module only says what is particular to it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Table

from imcloud_core.bus import BatchHandler, EventBus, Subscription, stop_all
from imcloud_core.db import Database, create_database_engine
from imcloud_core.logging import get_logger
from imcloud_core.migrations import require_head
from imcloud_core.outbox import Outbox
from imcloud_core.rpc import GrpcServer, Registration
from imcloud_core.settings import ProcessSettings

log = get_logger(__name__)


class Component(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Runtime:
    """What the modules of one process share."""

    settings: ProcessSettings
    bus: EventBus | None = None

    def require_bus(self) -> EventBus:
        if self.bus is None:
            raise RuntimeError("the bus module must start before the services")
        return self.bus


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    # The package whose store/migrations holds the service's Alembic revisions.
    package: str


@dataclass(frozen=True)
class SubscriptionSpec:
    group: str
    topics: Sequence[str]
    handler: BatchHandler
    # Records per handler call; None takes the bus's setting.
    max_records: int | None = None
    # Members of the group in this process, each with its own thread.
    members: int = 1


def open_database(settings: ProcessSettings, *, service: str, package: str) -> Database:
    """The service's database, checked to be reachable and fully migrated."""
    engine = create_database_engine(
        settings.database_url_for(service),
        setting=_database_setting(settings, service),
        pool_size=settings.database_pool_size,
    )
    require_head(engine, package=package, service=service)
    return Database(engine)


def _database_setting(settings: ProcessSettings, service: str) -> str:
    if service in settings.database_urls:
        return f"IMCLOUD_DATABASE_URLS__{service.upper()}"
    return "IMCLOUD_DATABASE_URL"


@dataclass
class BackendService:
    name: str
    db: Database
    bus: EventBus
    grpc_bind: str
    register_servicers: Sequence[Registration]
    subscriptions: Sequence[SubscriptionSpec] = ()
    # Loops that run until the event they are given is set (maintenance work).
    background: Sequence[Callable[[threading.Event], None]] = ()
    _server: GrpcServer | None = field(default=None, init=False)
    _active: list[Subscription] = field(default_factory=list, init=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)

    def start(self) -> None:
        self._server = GrpcServer(
            name=self.name, bind=self.grpc_bind, register=self.register_servicers
        )
        self._server.start()
        for number, loop in enumerate(self.background):
            thread = threading.Thread(
                target=loop, args=(self._stopping,), name=f"{self.name}-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        for spec in self.subscriptions:
            for _ in range(spec.members):
                self._active.append(
                    self.bus.subscribe(
                        group=spec.group,
                        topics=spec.topics,
                        handler=spec.handler,
                        max_records=spec.max_records,
                    )
                )
        log.info("service started", service=self.name, grpc=self.grpc_bind)

    def stop(self) -> None:
        stop_all(self._active)
        if self._server is not None:
            self._server.stop()
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.db.close()
        log.info("service stopped", service=self.name)


def every(
    period_s: float, what: str, work: Callable[[], None], *, run_at_start: bool = True
) -> Callable[[threading.Event], None]:
    """A background loop doing ``work`` every ``period_s`` until stopped; a failed
    round is logged and the loop carries on, so one bad moment does not end it."""

    def loop(stopping: threading.Event) -> None:
        if not run_at_start and stopping.wait(period_s):
            return
        while not stopping.is_set():
            try:
                work()
            except Exception:
                log.exception("background work failed; trying again later", work=what)
            stopping.wait(period_s)

    return loop


@dataclass(frozen=True)
class Wiring:
    """What a service runs on its database: its gRPC servicers, event handlers
    and background loops."""

    servicers: Sequence[Registration]
    subscriptions: Sequence[SubscriptionSpec] = ()
    background: Sequence[Callable[[threading.Event], None]] = ()


def build_backend_service(
    runtime: Runtime,
    *,
    name: str,
    package: str,
    outbox_table: Table,
    wire: Callable[[Database, Outbox], Wiring],
) -> BackendService:
    """Opens the service's database and wires its parts to it."""
    settings = runtime.settings
    db = open_database(settings, service=name, package=package)
    outbox = Outbox(outbox_table)
    wiring = wire(db, outbox)
    bus = runtime.require_bus()
    return BackendService(
        name=name,
        db=db,
        bus=bus,
        grpc_bind=settings.grpc_endpoint(name).bind,
        register_servicers=wiring.servicers,
        subscriptions=wiring.subscriptions,
        background=[*wiring.background, functools.partial(outbox.run_relay, db, bus)],
    )
