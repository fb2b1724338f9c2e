"""Equipment health: anomaly episodes per machine, line and plant, and resetting
a machine's learned model after maintenance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from imcloud.production.v1 import production_service_pb2 as production_pb
from imcloud.products.v1 import equipment_events_pb2 as events_pb2
from imcloud.products.v1 import products_service_pb2 as pb
from imcloud_core.paging import MAX_PAGE_SIZE, every_page
from imcloud_core.rpc import CallContext
from imcloud_gateway.api.http.context import HttpContext
from imcloud_gateway.api.http.deps import (
    GatewayDep,
    GrantedDep,
    OperatorCall,
    PageSize,
    PageToken,
    ViewerCall,
)
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.routes.telemetry import EPISODE_KINDS, episode_body
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.telemetry import EpisodeResponse
from imcloud_gateway.domain.model import Scope

router = APIRouter(tags=["health"])

Kind = Annotated[str, Query(pattern="^(anomaly|data_quality)?$", description="Only this kind")]
OpenOnly = Annotated[bool, Query(description="Only episodes still open")]


@dataclass(frozen=True)
class EpisodesQuery:
    kind: str
    open_only: bool
    page_size: int
    page_token: str


def _episodes_query(
    kind: Kind = "",
    open_only: OpenOnly = False,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> EpisodesQuery:
    return EpisodesQuery(kind, open_only, page_size, page_token)


EpisodesQueryDep = Annotated[EpisodesQuery, Depends(_episodes_query)]


def _episodes(
    gateway: HttpContext,
    ctx: CallContext,
    query: EpisodesQuery,
    *,
    equipment_id: str = "",
    station_ids: list[str] | None = None,
) -> Page[EpisodeResponse]:
    response = gateway.call(
        gateway.backends.products.ListAnomalyEpisodes,
        pb.ListAnomalyEpisodesRequest(
            equipment_id=equipment_id,
            station_ids=station_ids or [],
            kind=EPISODE_KINDS.get(query.kind, events_pb2.EPISODE_KIND_UNSPECIFIED),
            open_only=query.open_only,
            page_size=query.page_size,
            page_token=query.page_token,
        ),
        ctx,
    )
    return Page(
        items=[episode_body(e) for e in response.episodes],
        next_page_token=response.next_page_token,
    )


def stations_of(
    gateway: HttpContext, ctx: CallContext, *, line_id: str = "", plant_id: str = ""
) -> list[str]:
    """Every station of the line or plant (the production service owns them)."""

    def page(token: str) -> tuple[list[str], str]:
        response = gateway.call(
            gateway.backends.production.ListStations,
            production_pb.ListStationsRequest(
                line_id=line_id, plant_id=plant_id, page_size=MAX_PAGE_SIZE, page_token=token
            ),
            ctx,
        )
        return [s.id for s in response.stations], response.next_page_token

    return every_page(page)


def _episodes_at_stations(
    gateway: HttpContext,
    ctx: CallContext,
    query: EpisodesQuery,
    *,
    line_id: str = "",
    plant_id: str = "",
) -> Page[EpisodeResponse]:
    """Episodes of the machines at every station of a line or plant (which must exist)."""
    stations = stations_of(gateway, ctx, line_id=line_id, plant_id=plant_id)
    if not stations:
        # Stations are listed within the caller's tenant, so only an empty answer
        # leaves open whether the line or plant exists at all (404 if not).
        if line_id:
            gateway.call(
                gateway.backends.production.GetLine,
                production_pb.GetLineRequest(line_id=line_id),
                ctx,
            )
        else:
            gateway.call(
                gateway.backends.production.GetPlant,
                production_pb.GetPlantRequest(plant_id=plant_id),
                ctx,
            )
        return Page(items=[], next_page_token="")
    return _episodes(gateway, ctx, query, station_ids=stations)


@router.get(
    "/v1/equipment/{equipment_id}/anomaly-episodes",
    summary="A machine's anomaly and data-quality episodes, newest first",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def machine_episodes(
    equipment_id: str, ctx: ViewerCall, gateway: GatewayDep, query: EpisodesQueryDep
) -> Page[EpisodeResponse]:
    return _episodes(gateway, ctx, query, equipment_id=equipment_id)


@router.get(
    "/v1/lines/{line_id}/anomaly-episodes",
    summary="Episodes of the machines on a line, newest first",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def line_episodes(
    line_id: str, ctx: ViewerCall, gateway: GatewayDep, query: EpisodesQueryDep
) -> Page[EpisodeResponse]:
    return _episodes_at_stations(gateway, ctx, query, line_id=line_id)


@router.get(
    "/v1/plants/{plant_id}/anomaly-episodes",
    summary="Episodes of the machines in a plant, newest first",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def plant_episodes(
    plant_id: str, ctx: ViewerCall, gateway: GatewayDep, query: EpisodesQueryDep
) -> Page[EpisodeResponse]:
    return _episodes_at_stations(gateway, ctx, query, plant_id=plant_id)


@router.post(
    "/v1/equipment/{equipment_id}/anomaly-model:reset",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Forget what the machine's detector learned (after maintenance)",
    description="Open episodes are closed; the detector learns the machine's behaviour anew.",
    responses=error_responses(401, 403, 404, 429, 503),
)
def reset_model(equipment_id: str, ctx: OperatorCall, gateway: GatewayDep) -> Response:
    gateway.call(
        gateway.backends.products.ResetAnomalyModel,
        pb.ResetAnomalyModelRequest(equipment_id=equipment_id),
        ctx,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/v1/granted-equipment/{equipment_id}/anomaly-episodes",
    summary="(Equipment makers) a granted machine's episodes",
    responses=error_responses(401, 404, 422, 429, 503),
)
def granted_machine_episodes(
    equipment_id: str, granted: GrantedDep, gateway: GatewayDep, query: EpisodesQueryDep
) -> Page[EpisodeResponse]:
    ctx = granted.context(equipment_id, Scope.TWIN_READ)
    return _episodes(gateway, ctx, query, equipment_id=equipment_id)
