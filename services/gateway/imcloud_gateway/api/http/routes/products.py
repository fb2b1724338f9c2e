"""Equipment models (and, later, equipment), stored by the products service."""

from __future__ import annotations

from fastapi import APIRouter, status

from imcloud.products.v1 import products_service_pb2 as pb
from imcloud_core.convert import from_timestamp
from imcloud_gateway.api.http.deps import AdminCall, GatewayDep, ViewerCall
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.routes.tenants import PageSize, PageToken
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.products import (
    CreateEquipmentModelRequest,
    EquipmentModelResponse,
    SignalDefinitionBody,
)

router = APIRouter(tags=["products"])

SIGNAL_TYPES = {
    "double": pb.SIGNAL_TYPE_DOUBLE,
    "integer": pb.SIGNAL_TYPE_INTEGER,
    "boolean": pb.SIGNAL_TYPE_BOOLEAN,
}
SIGNAL_TYPE_NAMES = {number: name for name, number in SIGNAL_TYPES.items()}


def signal_body(signal: pb.SignalDefinition) -> SignalDefinitionBody:
    return SignalDefinitionBody(
        name=signal.name,
        unit=signal.unit,
        type=SIGNAL_TYPE_NAMES.get(signal.type, "double"),
        min_value=signal.min_value if signal.HasField("min_value") else None,
        max_value=signal.max_value if signal.HasField("max_value") else None,
        description=signal.description,
    )


def equipment_model_body(model: pb.EquipmentModel) -> EquipmentModelResponse:
    return EquipmentModelResponse(
        id=model.id,
        name=model.name,
        manufacturer=model.manufacturer,
        signals=[signal_body(s) for s in model.signals],
        create_time=from_timestamp(model.create_time),
        update_time=from_timestamp(model.update_time),
    )


@router.post(
    "/v1/equipment-models",
    status_code=status.HTTP_201_CREATED,
    summary="Register an equipment model and its signals",
    responses=error_responses(401, 403, 409, 422, 429, 503),
)
def create_equipment_model(
    body: CreateEquipmentModelRequest, ctx: AdminCall, gateway: GatewayDep
) -> EquipmentModelResponse:
    signals = [
        pb.SignalDefinition(
            name=s.name,
            unit=s.unit,
            type=SIGNAL_TYPES[s.type],
            min_value=s.min_value,
            max_value=s.max_value,
            description=s.description,
        )
        for s in body.signals
    ]
    response = gateway.call(
        gateway.backends.products.CreateEquipmentModel,
        pb.CreateEquipmentModelRequest(
            name=body.name, manufacturer=body.manufacturer, signals=signals
        ),
        ctx,
    )
    return equipment_model_body(response.equipment_model)


@router.get(
    "/v1/equipment-models/{equipment_model_id}",
    summary="Get an equipment model",
    responses=error_responses(401, 404, 429, 503),
)
def get_equipment_model(
    equipment_model_id: str, ctx: ViewerCall, gateway: GatewayDep
) -> EquipmentModelResponse:
    response = gateway.call(
        gateway.backends.products.GetEquipmentModel,
        pb.GetEquipmentModelRequest(equipment_model_id=equipment_model_id),
        ctx,
    )
    return equipment_model_body(response.equipment_model)


@router.get(
    "/v1/equipment-models",
    summary="List equipment models",
    responses=error_responses(401, 422, 429, 503),
)
def list_equipment_models(
    ctx: ViewerCall,
    gateway: GatewayDep,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[EquipmentModelResponse]:
    response = gateway.call(
        gateway.backends.products.ListEquipmentModels,
        pb.ListEquipmentModelsRequest(page_size=page_size, page_token=page_token),
        ctx,
    )
    return Page(
        items=[equipment_model_body(m) for m in response.equipment_models],
        next_page_token=response.next_page_token,
    )
