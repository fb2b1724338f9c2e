"""Where a machine is (its model from products, its station's line and plant from
production): what alarm rules scoped wider than one machine match."""

from __future__ import annotations

import grpc

from imcloud.production.v1 import production_service_pb2 as production_pb
from imcloud.production.v1.production_service_pb2_grpc import ProductionServiceStub
from imcloud.products.v1 import products_service_pb2 as products_pb
from imcloud.products.v1.products_service_pb2_grpc import ProductsServiceStub
from imcloud_core.errors import NotFound
from imcloud_core.rpc import CallContext, call
from imcloud_servitization.domain.alarms import Placement

DEADLINE_S = 5.0
ACTOR = "servitization"


class MachinePlacements:
    def __init__(self, products: grpc.Channel, production: grpc.Channel) -> None:
        self._products = ProductsServiceStub(products)
        self._production = ProductionServiceStub(production)

    def placement_of(self, *, tenant_id: str, equipment_id: str) -> Placement | None:
        ctx = CallContext(tenant_id=tenant_id, actor=ACTOR)
        try:
            machine = call(
                self._products.GetEquipment,
                products_pb.GetEquipmentRequest(equipment_id=equipment_id),
                ctx=ctx,
                deadline_s=DEADLINE_S,
            ).equipment
        except NotFound:
            return None
        if not machine.station_id:
            return Placement(machine.equipment_model_id)
        try:
            station = call(
                self._production.GetStation,
                production_pb.GetStationRequest(station_id=machine.station_id),
                ctx=ctx,
                deadline_s=DEADLINE_S,
            ).station
        except NotFound:
            return Placement(machine.equipment_model_id, machine.station_id)
        return Placement(
            machine.equipment_model_id, machine.station_id, station.line_id, station.plant_id
        )
