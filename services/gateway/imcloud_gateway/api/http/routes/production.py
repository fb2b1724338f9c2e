"""Plants, their lines and the lines' stations, stored by the production service.

A PATCH changes only the fields present in its body (they become the update
mask of the gRPC call); an empty PATCH body is refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from imcloud.production.v1 import production_service_pb2 as pb
from imcloud.products.v1 import products_service_pb2 as products_pb
from imcloud_core.convert import from_timestamp, timestamp
from imcloud_core.errors import FailedPrecondition, FieldViolation, InvalidArgument
from imcloud_core.rpc import CallContext
from imcloud_gateway.api.http.context import HttpContext
from imcloud_gateway.api.http.deps import AdminCall, GatewayDep, PageSize, PageToken, ViewerCall
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.production import (
    CreateLineRequest,
    CreatePlantRequest,
    CreateStationRequest,
    LineResponse,
    PlantResponse,
    StationResponse,
    UpdateLineRequest,
    UpdatePlantRequest,
    UpdateStationRequest,
)

router = APIRouter(tags=["production"])

PlantFilter = Annotated[str, Query(max_length=36, description="Only the items of this plant")]
LineFilter = Annotated[str, Query(max_length=36, description="Only the items of this line")]

# The errors each kind of route can answer with.
CREATE_ERRORS = error_responses(401, 403, 409, 422, 429, 503)
GET_ERRORS = error_responses(401, 404, 429, 503)
LIST_ERRORS = error_responses(401, 422, 429, 503)
UPDATE_ERRORS = error_responses(401, 403, 404, 409, 422, 429, 503)
DELETE_ERRORS = error_responses(401, 403, 404, 409, 429, 503)


def plant_body(plant: pb.Plant) -> PlantResponse:
    return PlantResponse(
        id=plant.id,
        name=plant.name,
        location=plant.location,
        time_zone=plant.time_zone,
        create_time=from_timestamp(plant.create_time),
        update_time=from_timestamp(plant.update_time),
    )


def line_body(line: pb.Line) -> LineResponse:
    return LineResponse(
        id=line.id,
        plant_id=line.plant_id,
        name=line.name,
        description=line.description,
        create_time=from_timestamp(line.create_time),
        update_time=from_timestamp(line.update_time),
    )


def station_body(station: pb.Station) -> StationResponse:
    return StationResponse(
        id=station.id,
        line_id=station.line_id,
        plant_id=station.plant_id,
        name=station.name,
        description=station.description,
        capabilities=list(station.capabilities),
        ideal_cycle_time_s=station.ideal_cycle_time_s,
        ideal_cycle_times=dict(station.ideal_cycle_times),
        create_time=from_timestamp(station.create_time),
        update_time=from_timestamp(station.update_time),
    )


def no_content() -> Response:
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def optional_time(message: Message, name: str) -> datetime | None:
    """A timestamp field of the message, or None where the service left it unset."""
    return from_timestamp(getattr(message, name)) if message.HasField(name) else None


def checked_range(start: datetime, end: datetime, *, max_days: int) -> tuple[Timestamp, Timestamp]:
    """The range of a query, refused (naming end_time) unless it is forward and short enough."""
    if not start < end <= start + timedelta(days=max_days):
        raise InvalidArgument(
            "the range is not valid",
            violations=(
                FieldViolation("end_time", f"must be after start_time, at most {max_days} days"),
            ),
        )
    return timestamp(start), timestamp(end)


# -- plants --------------------------------------------------------------------


@router.post(
    "/v1/plants",
    status_code=status.HTTP_201_CREATED,
    summary="Register a plant",
    description="Plant names are unique within the tenant (409 otherwise).",
    responses=CREATE_ERRORS,
)
def create_plant(body: CreatePlantRequest, ctx: AdminCall, gateway: GatewayDep) -> PlantResponse:
    response = gateway.call(
        gateway.backends.production.CreatePlant,
        pb.CreatePlantRequest(name=body.name, location=body.location, time_zone=body.time_zone),
        ctx,
    )
    return plant_body(response.plant)


@router.get("/v1/plants/{plant_id}", summary="Get a plant", responses=GET_ERRORS)
def get_plant(plant_id: str, ctx: ViewerCall, gateway: GatewayDep) -> PlantResponse:
    response = gateway.call(
        gateway.backends.production.GetPlant, pb.GetPlantRequest(plant_id=plant_id), ctx
    )
    return plant_body(response.plant)


@router.get("/v1/plants", summary="List plants, oldest first", responses=LIST_ERRORS)
def list_plants(
    ctx: ViewerCall,
    gateway: GatewayDep,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[PlantResponse]:
    response = gateway.call(
        gateway.backends.production.ListPlants,
        pb.ListPlantsRequest(page_size=page_size, page_token=page_token),
        ctx,
    )
    return Page(
        items=[plant_body(p) for p in response.plants], next_page_token=response.next_page_token
    )


@router.patch(
    "/v1/plants/{plant_id}",
    summary="Change a plant",
    description="Only the fields in the body change: any of name, location, time_zone.",
    responses=UPDATE_ERRORS,
)
def update_plant(
    plant_id: str, body: UpdatePlantRequest, ctx: AdminCall, gateway: GatewayDep
) -> PlantResponse:
    mask = body.update_mask()
    response = gateway.call(
        gateway.backends.production.UpdatePlant,
        pb.UpdatePlantRequest(
            plant=pb.Plant(id=plant_id, **body.model_dump(exclude_unset=True)), update_mask=mask
        ),
        ctx,
    )
    return plant_body(response.plant)


@router.delete(
    "/v1/plants/{plant_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a plant",
    description="Refused (409) while the plant still has lines.",
    responses=DELETE_ERRORS,
)
def delete_plant(plant_id: str, ctx: AdminCall, gateway: GatewayDep) -> Response:
    gateway.call(
        gateway.backends.production.DeletePlant, pb.DeletePlantRequest(plant_id=plant_id), ctx
    )
    return no_content()


# -- lines ---------------------------------------------------------------------


@router.post(
    "/v1/lines",
    status_code=status.HTTP_201_CREATED,
    summary="Add a line to a plant",
    description=(
        "Line names are unique within the plant (409 otherwise); an unknown plant_id is "
        "a 422 naming that field."
    ),
    responses=CREATE_ERRORS,
)
def create_line(body: CreateLineRequest, ctx: AdminCall, gateway: GatewayDep) -> LineResponse:
    response = gateway.call(
        gateway.backends.production.CreateLine,
        pb.CreateLineRequest(plant_id=body.plant_id, name=body.name, description=body.description),
        ctx,
    )
    return line_body(response.line)


@router.get("/v1/lines/{line_id}", summary="Get a line", responses=GET_ERRORS)
def get_line(line_id: str, ctx: ViewerCall, gateway: GatewayDep) -> LineResponse:
    response = gateway.call(
        gateway.backends.production.GetLine, pb.GetLineRequest(line_id=line_id), ctx
    )
    return line_body(response.line)


@router.get(
    "/v1/lines",
    summary="List lines, oldest first",
    description="With plant_id, only that plant's lines (none for an unknown plant).",
    responses=LIST_ERRORS,
)
def list_lines(
    ctx: ViewerCall,
    gateway: GatewayDep,
    plant_id: PlantFilter = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[LineResponse]:
    response = gateway.call(
        gateway.backends.production.ListLines,
        pb.ListLinesRequest(plant_id=plant_id, page_size=page_size, page_token=page_token),
        ctx,
    )
    return Page(
        items=[line_body(x) for x in response.lines], next_page_token=response.next_page_token
    )


@router.patch(
    "/v1/lines/{line_id}",
    summary="Change a line",
    description="Only the fields in the body change: any of name, description.",
    responses=UPDATE_ERRORS,
)
def update_line(
    line_id: str, body: UpdateLineRequest, ctx: AdminCall, gateway: GatewayDep
) -> LineResponse:
    mask = body.update_mask()
    response = gateway.call(
        gateway.backends.production.UpdateLine,
        pb.UpdateLineRequest(
            line=pb.Line(id=line_id, **body.model_dump(exclude_unset=True)), update_mask=mask
        ),
        ctx,
    )
    return line_body(response.line)


@router.delete(
    "/v1/lines/{line_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a line",
    description="Refused (409) while the line still has stations.",
    responses=DELETE_ERRORS,
)
def delete_line(line_id: str, ctx: AdminCall, gateway: GatewayDep) -> Response:
    gateway.call(gateway.backends.production.DeleteLine, pb.DeleteLineRequest(line_id=line_id), ctx)
    return no_content()


# -- stations ------------------------------------------------------------------


@router.post(
    "/v1/stations",
    status_code=status.HTTP_201_CREATED,
    summary="Add a station to a line",
    description=(
        "Station names are unique within the line (409 otherwise); an unknown line_id is "
        "a 422 naming that field. Capabilities say which routing steps the station can "
        "run; ideal cycle times give OEE its performance."
    ),
    responses=CREATE_ERRORS,
)
def create_station(
    body: CreateStationRequest, ctx: AdminCall, gateway: GatewayDep
) -> StationResponse:
    response = gateway.call(
        gateway.backends.production.CreateStation,
        pb.CreateStationRequest(
            line_id=body.line_id,
            name=body.name,
            description=body.description,
            capabilities=body.capabilities,
            ideal_cycle_time_s=body.ideal_cycle_time_s,
            ideal_cycle_times=body.ideal_cycle_times,
        ),
        ctx,
    )
    return station_body(response.station)


@router.get("/v1/stations/{station_id}", summary="Get a station", responses=GET_ERRORS)
def get_station(station_id: str, ctx: ViewerCall, gateway: GatewayDep) -> StationResponse:
    response = gateway.call(
        gateway.backends.production.GetStation, pb.GetStationRequest(station_id=station_id), ctx
    )
    return station_body(response.station)


@router.get(
    "/v1/stations",
    summary="List stations, oldest first",
    description="line_id and plant_id each narrow the list when given.",
    responses=LIST_ERRORS,
)
def list_stations(
    ctx: ViewerCall,
    gateway: GatewayDep,
    line_id: LineFilter = "",
    plant_id: PlantFilter = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[StationResponse]:
    response = gateway.call(
        gateway.backends.production.ListStations,
        pb.ListStationsRequest(
            line_id=line_id, plant_id=plant_id, page_size=page_size, page_token=page_token
        ),
        ctx,
    )
    return Page(
        items=[station_body(s) for s in response.stations],
        next_page_token=response.next_page_token,
    )


@router.patch(
    "/v1/stations/{station_id}",
    summary="Change a station",
    description=(
        "Only the fields in the body change: any of name, description, capabilities, "
        "ideal_cycle_time_s, ideal_cycle_times (the last replaces the whole map)."
    ),
    responses=UPDATE_ERRORS,
)
def update_station(
    station_id: str, body: UpdateStationRequest, ctx: AdminCall, gateway: GatewayDep
) -> StationResponse:
    mask = body.update_mask()
    response = gateway.call(
        gateway.backends.production.UpdateStation,
        pb.UpdateStationRequest(
            station=pb.Station(id=station_id, **body.model_dump(exclude_unset=True)),
            update_mask=mask,
        ),
        ctx,
    )
    return station_body(response.station)


def _machines_at(gateway: HttpContext, ctx: CallContext, station_id: str) -> int:
    """How many of the tenant's machines stand at the station (products knows them)."""
    count, page_token = 0, ""
    while True:
        response = gateway.call(
            gateway.backends.products.ListEquipment,
            products_pb.ListEquipmentRequest(
                page_size=500, page_token=page_token, station_id=station_id
            ),
            ctx,
        )
        count += len(response.equipment)
        page_token = response.next_page_token
        if not page_token:
            return count


@router.delete(
    "/v1/stations/{station_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a station",
    description=(
        "Refused (409, naming how many) while machines stand at the station: move them "
        "(PATCH /v1/equipment/{id} with another or an empty station_id) or delete them first."
    ),
    responses=DELETE_ERRORS,
)
def delete_station(station_id: str, ctx: AdminCall, gateway: GatewayDep) -> Response:
    if machines := _machines_at(gateway, ctx, station_id):
        raise FailedPrecondition(
            f"station {station_id!r} still has {machines} "
            f"{'machine' if machines == 1 else 'machines'}; move or delete them first"
        )
    gateway.call(
        gateway.backends.production.DeleteStation,
        pb.DeleteStationRequest(station_id=station_id),
        ctx,
    )
    return no_content()
