"""ProductsService over gRPC: translate, delegate to the domain, translate back."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from imcloud.products.v1 import products_service_pb2 as pb
from imcloud.products.v1 import products_service_pb2_grpc as pb_grpc
from imcloud_core.rpc import call_context, registrar
from imcloud_products.api.convert import equipment_model_message, signal_definition
from imcloud_products.domain import services
from imcloud_products.domain.ports import UnitOfWork


class ProductsServicer(pb_grpc.ProductsServiceServicer):
    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._uow = unit_of_work

    def CreateEquipmentModel(  # noqa: N802 - gRPC method names are PascalCase
        self, request: pb.CreateEquipmentModelRequest, context: grpc.ServicerContext
    ) -> pb.CreateEquipmentModelResponse:
        model = services.create_equipment_model(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            name=request.name,
            manufacturer=request.manufacturer,
            signals=tuple(signal_definition(s) for s in request.signals),
        )
        return pb.CreateEquipmentModelResponse(equipment_model=equipment_model_message(model))

    def GetEquipmentModel(  # noqa: N802
        self, request: pb.GetEquipmentModelRequest, context: grpc.ServicerContext
    ) -> pb.GetEquipmentModelResponse:
        model = services.get_equipment_model(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            model_id=request.equipment_model_id,
        )
        return pb.GetEquipmentModelResponse(equipment_model=equipment_model_message(model))

    def ListEquipmentModels(  # noqa: N802
        self, request: pb.ListEquipmentModelsRequest, context: grpc.ServicerContext
    ) -> pb.ListEquipmentModelsResponse:
        models, token = services.list_equipment_models(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListEquipmentModelsResponse(
            equipment_models=[equipment_model_message(m) for m in models],
            next_page_token=token,
        )


register = registrar(pb, "ProductsService", pb_grpc.add_ProductsServiceServicer_to_server)
