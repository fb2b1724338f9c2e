"""How the servitization service starts: its parts, wired from the settings."""

from __future__ import annotations

from imcloud_core.db import Database
from imcloud_core.outbox import Outbox
from imcloud_core.service import (
    BackendService,
    Runtime,
    ServiceDefinition,
    Wiring,
    build_backend_service,
)
from imcloud_servitization.api.grpc_servicer import ServitizationServicer, register
from imcloud_servitization.events.publishing import to_outbox_entry
from imcloud_servitization.store.repository import ServitizationUnitOfWork
from imcloud_servitization.store.tables import outbox

NAME = "servitization"
PACKAGE = "imcloud_servitization"


def _wire(db: Database, staged: Outbox) -> Wiring:
    return Wiring(
        servicers=[
            register(
                ServitizationServicer(lambda: ServitizationUnitOfWork(db, staged, to_outbox_entry))
            )
        ]
    )


def build(runtime: Runtime) -> BackendService:
    return build_backend_service(
        runtime, name=NAME, package=PACKAGE, outbox_table=outbox, wire=_wire
    )


SERVICE = ServiceDefinition(name=NAME, package=PACKAGE, build=build)
