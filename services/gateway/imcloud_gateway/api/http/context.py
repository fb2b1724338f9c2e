"""What the REST API's routes and middleware work with; module.py builds it."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.message import Message

from imcloud_core.bus import EventBus
from imcloud_core.db import Database
from imcloud_core.rpc import CallContext, ResponseT
from imcloud_gateway.api.device_link import OpenStreams
from imcloud_gateway.api.intake import TelemetryIntake
from imcloud_gateway.clients.backends import Backends
from imcloud_gateway.domain.ports import EquipmentDirectory, UnitOfWork
from imcloud_gateway.domain.provisioning import ProvisioningRecords
from imcloud_gateway.domain.ratelimit import RateLimiter
from imcloud_gateway.settings import GatewaySettings


@dataclass(frozen=True)
class HttpContext:
    settings: GatewaySettings
    unit_of_work: Callable[[], UnitOfWork]
    backends: Backends
    equipment_directory: EquipmentDirectory
    intake: TelemetryIntake
    # Revoking or rotating a device credential closes the streams opened with it.
    streams: OpenStreams
    tenant_limits: RateLimiter
    credential_limits: RateLimiter
    # Requests without a credential (sign-up), per client address.
    anonymous_limits: RateLimiter
    # None when this deployment provisions no dedicated resources.
    provisioning_records: ProvisioningRecords | None
    # Readiness: what the gateway itself needs to answer.
    db: Database
    bus: EventBus
    # Set when the gateway stops: live views end instead of holding the server open.
    stopping: threading.Event = field(default_factory=threading.Event)
    # Marks a live view's repeated reads (known only inside this process), which the
    # audit log records once, when the view opens, not every second.
    live_repeat_mark: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def call(
        self, method: Callable[..., ResponseT], request: Message, ctx: CallContext
    ) -> ResponseT:
        return self.backends.call(method, request, ctx)
