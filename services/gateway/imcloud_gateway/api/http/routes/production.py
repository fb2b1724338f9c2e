"""Plants (and, later, lines and stations), stored by the production service."""

from __future__ import annotations

from fastapi import APIRouter, status

from imcloud.production.v1 import production_service_pb2 as pb
from imcloud_core.convert import from_timestamp
from imcloud_gateway.api.http.deps import AdminCall, GatewayDep, ViewerCall
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.routes.tenants import PageSize, PageToken
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.production import CreatePlantRequest, PlantResponse

router = APIRouter(tags=["production"])


def plant_body(plant: pb.Plant) -> PlantResponse:
    return PlantResponse(
        id=plant.id,
        name=plant.name,
        location=plant.location,
        time_zone=plant.time_zone,
        create_time=from_timestamp(plant.create_time),
        update_time=from_timestamp(plant.update_time),
    )


@router.post(
    "/v1/plants",
    status_code=status.HTTP_201_CREATED,
    summary="Register a plant",
    responses=error_responses(401, 403, 409, 422, 429, 503),
)
def create_plant(body: CreatePlantRequest, ctx: AdminCall, gateway: GatewayDep) -> PlantResponse:
    response = gateway.call(
        gateway.backends.production.CreatePlant,
        pb.CreatePlantRequest(name=body.name, location=body.location, time_zone=body.time_zone),
        ctx,
    )
    return plant_body(response.plant)


@router.get(
    "/v1/plants/{plant_id}",
    summary="Get a plant",
    responses=error_responses(401, 404, 429, 503),
)
def get_plant(plant_id: str, ctx: ViewerCall, gateway: GatewayDep) -> PlantResponse:
    response = gateway.call(
        gateway.backends.production.GetPlant,
        pb.GetPlantRequest(plant_id=plant_id),
        ctx,
    )
    return plant_body(response.plant)


@router.get(
    "/v1/plants",
    summary="List plants",
    responses=error_responses(401, 422, 429, 503),
)
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
