"""ProductionService over gRPC: translate, delegate to the domain, translate back."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from imcloud.production.v1 import production_service_pb2 as pb
from imcloud.production.v1 import production_service_pb2_grpc as pb_grpc
from imcloud_core.rpc import call_context, registrar
from imcloud_production.api.grpc_execution import ExecutionRpcs
from imcloud_production.api.grpc_schedules import ScheduleRpcs, SolverSlots
from imcloud_production.convert import line_message, plant_message, station_message
from imcloud_production.domain import services
from imcloud_production.domain.ports import ExecutionUnitOfWork, RecipeTarget, UnitOfWork
from imcloud_production.settings import SchedulingSettings


def _tenant(context: grpc.ServicerContext) -> str:
    return call_context(context).tenant_id


# gRPC method names are PascalCase, hence the noqa: N802 on each.
class ProductionServicer(ExecutionRpcs, ScheduleRpcs, pb_grpc.ProductionServiceServicer):
    def __init__(
        self,
        unit_of_work: Callable[[], ExecutionUnitOfWork],
        scheduling: SchedulingSettings,
        *,
        recipes: RecipeTarget,
    ) -> None:
        self._uow: Callable[[], UnitOfWork] = unit_of_work
        self._execution = unit_of_work
        self._recipes = recipes
        self._scheduling = scheduling
        self._solver_slots = SolverSlots()

    # -- plants ----------------------------------------------------------------

    def CreatePlant(  # noqa: N802
        self, request: pb.CreatePlantRequest, context: grpc.ServicerContext
    ) -> pb.CreatePlantResponse:
        plant = services.create_plant(
            self._uow(),
            tenant_id=_tenant(context),
            name=request.name,
            location=request.location,
            time_zone=request.time_zone,
        )
        return pb.CreatePlantResponse(plant=plant_message(plant))

    def GetPlant(  # noqa: N802
        self, request: pb.GetPlantRequest, context: grpc.ServicerContext
    ) -> pb.GetPlantResponse:
        plant = services.get_plant(
            self._uow(), tenant_id=_tenant(context), plant_id=request.plant_id
        )
        return pb.GetPlantResponse(plant=plant_message(plant))

    def ListPlants(  # noqa: N802
        self, request: pb.ListPlantsRequest, context: grpc.ServicerContext
    ) -> pb.ListPlantsResponse:
        plants, token = services.list_plants(
            self._uow(),
            tenant_id=_tenant(context),
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListPlantsResponse(
            plants=[plant_message(p) for p in plants], next_page_token=token
        )

    def UpdatePlant(  # noqa: N802
        self, request: pb.UpdatePlantRequest, context: grpc.ServicerContext
    ) -> pb.UpdatePlantResponse:
        plant = services.update_plant(
            self._uow(),
            tenant_id=_tenant(context),
            plant_id=request.plant.id,
            update_mask=request.update_mask.paths,
            name=request.plant.name,
            location=request.plant.location,
            time_zone=request.plant.time_zone,
        )
        return pb.UpdatePlantResponse(plant=plant_message(plant))

    def DeletePlant(  # noqa: N802
        self, request: pb.DeletePlantRequest, context: grpc.ServicerContext
    ) -> pb.DeletePlantResponse:
        services.delete_plant(self._uow(), tenant_id=_tenant(context), plant_id=request.plant_id)
        return pb.DeletePlantResponse()

    # -- lines -----------------------------------------------------------------

    def CreateLine(  # noqa: N802
        self, request: pb.CreateLineRequest, context: grpc.ServicerContext
    ) -> pb.CreateLineResponse:
        line = services.create_line(
            self._uow(),
            tenant_id=_tenant(context),
            plant_id=request.plant_id,
            name=request.name,
            description=request.description,
        )
        return pb.CreateLineResponse(line=line_message(line))

    def GetLine(  # noqa: N802
        self, request: pb.GetLineRequest, context: grpc.ServicerContext
    ) -> pb.GetLineResponse:
        line = services.get_line(self._uow(), tenant_id=_tenant(context), line_id=request.line_id)
        return pb.GetLineResponse(line=line_message(line))

    def ListLines(  # noqa: N802
        self, request: pb.ListLinesRequest, context: grpc.ServicerContext
    ) -> pb.ListLinesResponse:
        lines, token = services.list_lines(
            self._uow(),
            tenant_id=_tenant(context),
            plant_id=request.plant_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListLinesResponse(lines=[line_message(x) for x in lines], next_page_token=token)

    def UpdateLine(  # noqa: N802
        self, request: pb.UpdateLineRequest, context: grpc.ServicerContext
    ) -> pb.UpdateLineResponse:
        line = services.update_line(
            self._uow(),
            tenant_id=_tenant(context),
            line_id=request.line.id,
            update_mask=request.update_mask.paths,
            name=request.line.name,
            description=request.line.description,
        )
        return pb.UpdateLineResponse(line=line_message(line))

    def DeleteLine(  # noqa: N802
        self, request: pb.DeleteLineRequest, context: grpc.ServicerContext
    ) -> pb.DeleteLineResponse:
        services.delete_line(self._uow(), tenant_id=_tenant(context), line_id=request.line_id)
        return pb.DeleteLineResponse()

    # -- stations --------------------------------------------------------------

    def CreateStation(  # noqa: N802
        self, request: pb.CreateStationRequest, context: grpc.ServicerContext
    ) -> pb.CreateStationResponse:
        station = services.create_station(
            self._uow(),
            tenant_id=_tenant(context),
            line_id=request.line_id,
            name=request.name,
            description=request.description,
            capabilities=request.capabilities,
            ideal_cycle_time_s=request.ideal_cycle_time_s,
            ideal_cycle_times=request.ideal_cycle_times,
        )
        return pb.CreateStationResponse(station=station_message(station))

    def GetStation(  # noqa: N802
        self, request: pb.GetStationRequest, context: grpc.ServicerContext
    ) -> pb.GetStationResponse:
        station = services.get_station(
            self._uow(), tenant_id=_tenant(context), station_id=request.station_id
        )
        return pb.GetStationResponse(station=station_message(station))

    def ListStations(  # noqa: N802
        self, request: pb.ListStationsRequest, context: grpc.ServicerContext
    ) -> pb.ListStationsResponse:
        stations, token = services.list_stations(
            self._uow(),
            tenant_id=_tenant(context),
            line_id=request.line_id,
            plant_id=request.plant_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListStationsResponse(
            stations=[station_message(s) for s in stations], next_page_token=token
        )

    def UpdateStation(  # noqa: N802
        self, request: pb.UpdateStationRequest, context: grpc.ServicerContext
    ) -> pb.UpdateStationResponse:
        station = services.update_station(
            self._uow(),
            tenant_id=_tenant(context),
            station_id=request.station.id,
            update_mask=request.update_mask.paths,
            name=request.station.name,
            description=request.station.description,
            capabilities=request.station.capabilities,
            ideal_cycle_time_s=request.station.ideal_cycle_time_s,
            ideal_cycle_times=request.station.ideal_cycle_times,
        )
        return pb.UpdateStationResponse(station=station_message(station))

    def DeleteStation(  # noqa: N802
        self, request: pb.DeleteStationRequest, context: grpc.ServicerContext
    ) -> pb.DeleteStationResponse:
        services.delete_station(
            self._uow(), tenant_id=_tenant(context), station_id=request.station_id
        )
        return pb.DeleteStationResponse()


register = registrar(pb, "ProductionService", pb_grpc.add_ProductionServiceServicer_to_server)
