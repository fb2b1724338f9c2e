"""Everything a gateway request handler may use, built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from imcloud_core.bus import EventBus
from imcloud_core.db import Database
from imcloud_core.outbox import Outbox
from imcloud_core.settings import Settings
from imcloud_gateway.api.backends import Backends
from imcloud_gateway.events.publishing import to_outbox_entry
from imcloud_gateway.store.repository import GatewayUnitOfWork


@dataclass
class GatewayContext:
    settings: Settings
    db: Database
    outbox: Outbox
    bus: EventBus
    backends: Backends

    def unit_of_work(self) -> GatewayUnitOfWork:
        return GatewayUnitOfWork(self.db, self.outbox, to_outbox_entry)

    @property
    def deadline_s(self) -> float:
        return self.settings.grpc_deadline_s
