"""gRPC clients of the services behind the gateway."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from google.protobuf.message import Message

from imcloud.production.v1.production_service_pb2_grpc import ProductionServiceStub
from imcloud.products.v1 import products_service_pb2 as products_pb
from imcloud.products.v1.products_service_pb2 import (
    GetEquipmentModelRequest,
    GetEquipmentRequest,
)
from imcloud.products.v1.products_service_pb2_grpc import ProductsServiceStub
from imcloud.servitization.v1.servitization_service_pb2_grpc import ServitizationServiceStub
from imcloud_core.errors import NotFound
from imcloud_core.rpc import CallContext, ResponseT, call, check_health, open_channel
from imcloud_core.settings import ProcessSettings
from imcloud_gateway.domain.telemetry import SignalKind, SignalSpec

BACKEND_SERVICES = ("products", "production", "servitization")


@dataclass
class Backends:
    products: ProductsServiceStub
    production: ProductionServiceStub
    servitization: ServitizationServiceStub
    targets: dict[str, str]
    channels: list[grpc.Channel]
    deadline_s: float

    @classmethod
    def connect(cls, settings: ProcessSettings) -> Backends:
        targets = {name: settings.grpc_endpoint(name).target for name in BACKEND_SERVICES}
        channels = {name: open_channel(target) for name, target in targets.items()}
        return cls(
            products=ProductsServiceStub(channels["products"]),
            production=ProductionServiceStub(channels["production"]),
            servitization=ServitizationServiceStub(channels["servitization"]),
            targets=targets,
            channels=list(channels.values()),
            deadline_s=settings.grpc_deadline_s,
        )

    def call(
        self, method: Callable[..., ResponseT], request: Message, ctx: CallContext
    ) -> ResponseT:
        """One call to a service, with the caller's tenant and the configured deadline."""
        return call(method, request, ctx=ctx, deadline_s=self.deadline_s)

    def unhealthy(self) -> list[str]:
        return [name for name, target in self.targets.items() if not check_health(target)]

    def close(self) -> None:
        for channel in self.channels:
            channel.close()


class ProductsEquipmentDirectory:
    """The domain's EquipmentDirectory, answered by the products service."""

    def __init__(self, backends: Backends) -> None:
        self._backends = backends

    def exists(self, *, tenant_id: str, equipment_id: str) -> bool:
        try:
            self._backends.call(
                self._backends.products.GetEquipment,
                GetEquipmentRequest(equipment_id=equipment_id),
                CallContext(tenant_id=tenant_id, actor="gateway"),
            )
        except NotFound:
            return False
        return True


class ProductsSignalCatalog:
    """The domain's SignalCatalog: a machine's signals, from the products service.

    Cached for a while per machine, because every telemetry batch needs them and
    equipment models change rarely.
    """

    def __init__(self, backends: Backends, *, ttl_s: float) -> None:
        self._backends = backends
        self._ttl_s = ttl_s
        self._cache: dict[tuple[str, str], tuple[float, dict[str, SignalSpec]]] = {}
        self._lock = threading.Lock()

    def __call__(self, tenant_id: str, equipment_id: str) -> dict[str, SignalSpec]:
        key = (tenant_id, equipment_id)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        ctx = CallContext(tenant_id=tenant_id, actor=f"device:{equipment_id}")
        machine = self._backends.call(
            self._backends.products.GetEquipment,
            GetEquipmentRequest(equipment_id=equipment_id),
            ctx,
        ).equipment
        model = self._backends.call(
            self._backends.products.GetEquipmentModel,
            GetEquipmentModelRequest(equipment_model_id=machine.equipment_model_id),
            ctx,
        ).equipment_model
        specs = {
            s.name: SignalSpec(
                name=s.name,
                kind=SIGNAL_KINDS.get(s.type, SignalKind.DOUBLE),
                min_value=s.min_value if s.HasField("min_value") else None,
                max_value=s.max_value if s.HasField("max_value") else None,
            )
            for s in model.signals
        }
        with self._lock:
            self._cache[key] = (now, specs)
        return specs


SIGNAL_KINDS = {
    products_pb.SIGNAL_TYPE_DOUBLE: SignalKind.DOUBLE,
    products_pb.SIGNAL_TYPE_INTEGER: SignalKind.INTEGER,
    products_pb.SIGNAL_TYPE_BOOLEAN: SignalKind.BOOLEAN,
}
