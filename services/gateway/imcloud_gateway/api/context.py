"""Everything a gateway request handler may use, built once per process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.message import Message

from imcloud_core.bus import EventBus
from imcloud_core.db import Database
from imcloud_core.outbox import Outbox
from imcloud_core.rpc import CallContext, ResponseT, call
from imcloud_core.settings import ProcessSettings
from imcloud_gateway.api.device_link import OpenStreams, TelemetryIntake
from imcloud_gateway.clients.backends import (
    Backends,
    ProductsEquipmentDirectory,
    ProductsSignalCatalog,
)
from imcloud_gateway.domain.ratelimit import RateLimiter
from imcloud_gateway.domain.telemetry import TelemetryLimits
from imcloud_gateway.events.publishing import to_outbox_entry
from imcloud_gateway.events.telemetry import TelemetryPublisher
from imcloud_gateway.settings import GatewaySettings, ProvisioningSettings
from imcloud_gateway.store.repository import GatewayUnitOfWork, SqlProvisioningRecords


@dataclass
class GatewayContext:
    process: ProcessSettings
    settings: GatewaySettings
    provisioning: ProvisioningSettings
    db: Database
    outbox: Outbox
    bus: EventBus
    backends: Backends
    tenant_limits: RateLimiter = field(init=False)
    credential_limits: RateLimiter = field(init=False)
    # Requests without a credential (sign-up), per client address.
    anonymous_limits: RateLimiter = field(init=False)
    equipment_directory: ProductsEquipmentDirectory = field(init=False)
    telemetry: TelemetryPublisher = field(init=False)
    intake: TelemetryIntake = field(init=False)
    streams: OpenStreams = field(default_factory=OpenStreams)
    provisioning_records: SqlProvisioningRecords = field(init=False)

    def __post_init__(self) -> None:
        self.provisioning_records = SqlProvisioningRecords(self.db)
        self.equipment_directory = ProductsEquipmentDirectory(
            self.backends, deadline_s=self.process.grpc_deadline_s
        )
        checks = self.settings
        self.telemetry = TelemetryPublisher(self.bus)
        self.intake = TelemetryIntake(
            catalog=ProductsSignalCatalog(
                self.backends, deadline_s=self.process.grpc_deadline_s, ttl_s=checks.model_cache_s
            ),
            sink=self.telemetry,
            limits=TelemetryLimits(
                max_points_per_batch=checks.max_points_per_batch,
                max_future_ms=checks.max_future_s * 1000,
                max_age_ms=checks.max_age_s * 1000,
            ),
        )
        limits = self.settings
        self.tenant_limits = RateLimiter(
            rate_per_s=limits.tenant_rate_per_s, burst=limits.tenant_burst
        )
        self.credential_limits = RateLimiter(
            rate_per_s=limits.credential_rate_per_s, burst=limits.credential_burst
        )
        self.anonymous_limits = RateLimiter(
            rate_per_s=limits.anonymous_rate_per_s, burst=limits.anonymous_burst
        )

    def unit_of_work(self) -> GatewayUnitOfWork:
        return GatewayUnitOfWork(self.db, self.outbox, to_outbox_entry)

    def call(
        self, method: Callable[..., ResponseT], request: Message, ctx: CallContext
    ) -> ResponseT:
        """One call to a service, with the caller's tenant and the configured deadline."""
        return call(method, request, ctx=ctx, deadline_s=self.process.grpc_deadline_s)
