"""ProductionService over gRPC: translate, delegate to the domain, translate back."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from imcloud.production.v1 import production_service_pb2 as pb
from imcloud.production.v1 import production_service_pb2_grpc as pb_grpc
from imcloud_core.rpc import call_context, registrar
from imcloud_production.api.convert import plant_message
from imcloud_production.domain import services
from imcloud_production.domain.ports import UnitOfWork


class ProductionServicer(pb_grpc.ProductionServiceServicer):
    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._uow = unit_of_work

    def CreatePlant(  # noqa: N802 - gRPC method names are PascalCase
        self, request: pb.CreatePlantRequest, context: grpc.ServicerContext
    ) -> pb.CreatePlantResponse:
        plant = services.create_plant(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            name=request.name,
            location=request.location,
            time_zone=request.time_zone,
        )
        return pb.CreatePlantResponse(plant=plant_message(plant))

    def GetPlant(  # noqa: N802
        self, request: pb.GetPlantRequest, context: grpc.ServicerContext
    ) -> pb.GetPlantResponse:
        plant = services.get_plant(
            self._uow(), tenant_id=call_context(context).tenant_id, plant_id=request.plant_id
        )
        return pb.GetPlantResponse(plant=plant_message(plant))

    def ListPlants(  # noqa: N802
        self, request: pb.ListPlantsRequest, context: grpc.ServicerContext
    ) -> pb.ListPlantsResponse:
        plants, token = services.list_plants(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListPlantsResponse(
            plants=[plant_message(p) for p in plants], next_page_token=token
        )


register = registrar(pb, "ProductionService", pb_grpc.add_ProductionServiceServicer_to_server)
