"""gRPC clients of the services behind the gateway."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from imcloud.production.v1.production_service_pb2_grpc import ProductionServiceStub
from imcloud.products.v1.products_service_pb2 import GetEquipmentRequest
from imcloud.products.v1.products_service_pb2_grpc import ProductsServiceStub
from imcloud.servitization.v1.servitization_service_pb2_grpc import ServitizationServiceStub
from imcloud_core.errors import NotFound
from imcloud_core.rpc import CallContext, call, check_health, open_channel
from imcloud_core.settings import Settings

BACKEND_SERVICES = ("products", "production", "servitization")


@dataclass
class Backends:
    products: ProductsServiceStub
    production: ProductionServiceStub
    servitization: ServitizationServiceStub
    targets: dict[str, str]
    channels: list[grpc.Channel]

    @classmethod
    def connect(cls, settings: Settings) -> Backends:
        targets = {name: settings.grpc_endpoint(name).target for name in BACKEND_SERVICES}
        channels = {name: open_channel(target) for name, target in targets.items()}
        return cls(
            products=ProductsServiceStub(channels["products"]),
            production=ProductionServiceStub(channels["production"]),
            servitization=ServitizationServiceStub(channels["servitization"]),
            targets=targets,
            channels=list(channels.values()),
        )

    def unhealthy(self) -> list[str]:
        return [name for name, target in self.targets.items() if not check_health(target)]

    def close(self) -> None:
        for channel in self.channels:
            channel.close()


class ProductsEquipmentDirectory:
    """The domain's EquipmentDirectory, answered by the products service."""

    def __init__(self, backends: Backends, *, deadline_s: float) -> None:
        self._backends = backends
        self._deadline_s = deadline_s

    def exists(self, *, tenant_id: str, equipment_id: str) -> bool:
        try:
            call(
                self._backends.products.GetEquipment,
                GetEquipmentRequest(equipment_id=equipment_id),
                ctx=CallContext(tenant_id=tenant_id, actor="gateway"),
                deadline_s=self._deadline_s,
            )
        except NotFound:
            return False
        return True
