"""Equipment models and equipment, stored by the products service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from imcloud.production.v1 import production_service_pb2 as production_pb
from imcloud.products.v1 import products_service_pb2 as pb
from imcloud_core.convert import from_timestamp
from imcloud_core.errors import FieldViolation, InvalidArgument, NotFound
from imcloud_core.rpc import CallContext
from imcloud_gateway.api.http.context import HttpContext
from imcloud_gateway.api.http.deps import AdminCall, GatewayDep, PageSize, PageToken, ViewerCall
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.products import (
    CreateEquipmentModelRequest,
    CreateEquipmentRequest,
    EquipmentModelResponse,
    EquipmentResponse,
    SignalDefinitionBody,
    UpdateEquipmentModelRequest,
    UpdateEquipmentRequest,
)

router = APIRouter(tags=["products"])

SIGNAL_TYPES = {
    "double": pb.SIGNAL_TYPE_DOUBLE,
    "integer": pb.SIGNAL_TYPE_INTEGER,
    "boolean": pb.SIGNAL_TYPE_BOOLEAN,
}
SIGNAL_TYPE_NAMES = {number: name for name, number in SIGNAL_TYPES.items()}
IdFilter = Annotated[str, Query(max_length=36)]


def signal_body(signal: pb.SignalDefinition) -> SignalDefinitionBody:
    return SignalDefinitionBody(
        name=signal.name,
        unit=signal.unit,
        type=SIGNAL_TYPE_NAMES.get(signal.type, "double"),
        min_value=signal.min_value if signal.HasField("min_value") else None,
        max_value=signal.max_value if signal.HasField("max_value") else None,
        description=signal.description,
    )


def signal_messages(signals: list[SignalDefinitionBody]) -> list[pb.SignalDefinition]:
    return [
        pb.SignalDefinition(
            name=s.name,
            unit=s.unit,
            type=SIGNAL_TYPES[s.type],
            min_value=s.min_value,
            max_value=s.max_value,
            description=s.description,
        )
        for s in signals
    ]


def equipment_model_body(model: pb.EquipmentModel) -> EquipmentModelResponse:
    return EquipmentModelResponse(
        id=model.id,
        name=model.name,
        manufacturer=model.manufacturer,
        signals=[signal_body(s) for s in model.signals],
        create_time=from_timestamp(model.create_time),
        update_time=from_timestamp(model.update_time),
    )


def equipment_body(machine: pb.Equipment) -> EquipmentResponse:
    return EquipmentResponse(
        id=machine.id,
        equipment_model_id=machine.equipment_model_id,
        serial_number=machine.serial_number,
        name=machine.name,
        station_id=machine.station_id,
        create_time=from_timestamp(machine.create_time),
        update_time=from_timestamp(machine.update_time),
    )


# -- equipment models ------------------------------------------------------------


@router.post(
    "/v1/equipment-models",
    status_code=status.HTTP_201_CREATED,
    summary="Register an equipment model and its signals",
    responses=error_responses(401, 403, 409, 422, 429, 503),
)
def create_equipment_model(
    body: CreateEquipmentModelRequest, ctx: AdminCall, gateway: GatewayDep
) -> EquipmentModelResponse:
    response = gateway.call(
        gateway.backends.products.CreateEquipmentModel,
        pb.CreateEquipmentModelRequest(
            name=body.name, manufacturer=body.manufacturer, signals=signal_messages(body.signals)
        ),
        ctx,
    )
    return equipment_model_body(response.equipment_model)


@router.get(
    "/v1/equipment-models/{equipment_model_id}",
    summary="Get an equipment model",
    responses=error_responses(401, 403, 404, 429, 503),
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
    responses=error_responses(401, 403, 422, 429, 503),
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


@router.patch(
    "/v1/equipment-models/{equipment_model_id}",
    summary="Change an equipment model",
    description="Only the fields in the body change; `signals` replaces the whole list.",
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
def update_equipment_model(
    equipment_model_id: str,
    body: UpdateEquipmentModelRequest,
    ctx: AdminCall,
    gateway: GatewayDep,
) -> EquipmentModelResponse:
    mask = body.update_mask()
    response = gateway.call(
        gateway.backends.products.UpdateEquipmentModel,
        pb.UpdateEquipmentModelRequest(
            equipment_model=pb.EquipmentModel(
                id=equipment_model_id,
                name=body.name or "",
                manufacturer=body.manufacturer or "",
                signals=signal_messages(body.signals or []),
            ),
            update_mask=mask,
        ),
        ctx,
    )
    return equipment_model_body(response.equipment_model)


@router.delete(
    "/v1/equipment-models/{equipment_model_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an equipment model",
    description="Refused (409) while equipment of this model exists.",
    responses=error_responses(401, 403, 404, 409, 429, 503),
)
def delete_equipment_model(
    equipment_model_id: str, ctx: AdminCall, gateway: GatewayDep
) -> Response:
    gateway.call(
        gateway.backends.products.DeleteEquipmentModel,
        pb.DeleteEquipmentModelRequest(equipment_model_id=equipment_model_id),
        ctx,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- equipment -------------------------------------------------------------------


def _placeable(gateway: HttpContext, ctx: CallContext, station_id: str) -> str:
    """The station id, once production knows it in the caller's tenant.

    Products stores any id it is given; an unknown or another tenant's station
    would leave the machine out of every line and plant view.
    """
    if station_id:
        try:
            gateway.call(
                gateway.backends.production.GetStation,
                production_pb.GetStationRequest(station_id=station_id),
                ctx,
            )
        except NotFound:
            raise InvalidArgument(
                "the machine is not valid",
                violations=(FieldViolation("station_id", f"no station {station_id!r}"),),
            ) from None
    return station_id


@router.post(
    "/v1/equipment",
    status_code=status.HTTP_201_CREATED,
    summary="Register a machine",
    description=(
        "An instance of an equipment model, optionally placed at a station. "
        "An unknown station_id, or another tenant's, is a 422 naming that field."
    ),
    responses=error_responses(401, 403, 409, 422, 429, 503),
)
def create_equipment(
    body: CreateEquipmentRequest, ctx: AdminCall, gateway: GatewayDep
) -> EquipmentResponse:
    response = gateway.call(
        gateway.backends.products.CreateEquipment,
        pb.CreateEquipmentRequest(
            equipment_model_id=body.equipment_model_id,
            serial_number=body.serial_number,
            name=body.name,
            station_id=_placeable(gateway, ctx, body.station_id),
        ),
        ctx,
    )
    return equipment_body(response.equipment)


@router.get(
    "/v1/equipment/{equipment_id}",
    summary="Get a machine",
    responses=error_responses(401, 403, 404, 429, 503),
)
def get_equipment(equipment_id: str, ctx: ViewerCall, gateway: GatewayDep) -> EquipmentResponse:
    response = gateway.call(
        gateway.backends.products.GetEquipment,
        pb.GetEquipmentRequest(equipment_id=equipment_id),
        ctx,
    )
    return equipment_body(response.equipment)


@router.get(
    "/v1/equipment",
    summary="List machines",
    responses=error_responses(401, 403, 422, 429, 503),
)
def list_equipment(
    ctx: ViewerCall,
    gateway: GatewayDep,
    equipment_model_id: IdFilter = "",
    station_id: IdFilter = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[EquipmentResponse]:
    response = gateway.call(
        gateway.backends.products.ListEquipment,
        pb.ListEquipmentRequest(
            page_size=page_size,
            page_token=page_token,
            equipment_model_id=equipment_model_id,
            station_id=station_id,
        ),
        ctx,
    )
    return Page(
        items=[equipment_body(m) for m in response.equipment],
        next_page_token=response.next_page_token,
    )


@router.patch(
    "/v1/equipment/{equipment_id}",
    summary="Change a machine (rename, correct its serial number, move it)",
    description=(
        "An unknown station_id, or another tenant's, is a 422 naming that field; "
        "an empty one takes the machine off its station."
    ),
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
def update_equipment(
    equipment_id: str, body: UpdateEquipmentRequest, ctx: AdminCall, gateway: GatewayDep
) -> EquipmentResponse:
    mask = body.update_mask()
    if body.station_id:
        # Another tenant's machine is a 404, whichever station the body names.
        gateway.call(
            gateway.backends.products.GetEquipment,
            pb.GetEquipmentRequest(equipment_id=equipment_id),
            ctx,
        )
    response = gateway.call(
        gateway.backends.products.UpdateEquipment,
        pb.UpdateEquipmentRequest(
            equipment=pb.Equipment(
                id=equipment_id,
                serial_number=body.serial_number or "",
                name=body.name or "",
                station_id=_placeable(gateway, ctx, body.station_id or ""),
            ),
            update_mask=mask,
        ),
        ctx,
    )
    return equipment_body(response.equipment)


@router.delete(
    "/v1/equipment/{equipment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a machine",
    responses=error_responses(401, 403, 404, 429, 503),
)
def delete_equipment(equipment_id: str, ctx: AdminCall, gateway: GatewayDep) -> Response:
    gateway.call(
        gateway.backends.products.DeleteEquipment,
        pb.DeleteEquipmentRequest(equipment_id=equipment_id),
        ctx,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
