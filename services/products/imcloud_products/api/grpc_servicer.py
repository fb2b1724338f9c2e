"""ProductsService over gRPC: translate, delegate to the domain, translate back."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from imcloud.products.v1 import products_service_pb2 as pb
from imcloud.products.v1 import products_service_pb2_grpc as pb_grpc
from imcloud_core.ids import now_ms
from imcloud_core.rpc import call_context, registrar
from imcloud_products.convert import (
    EPISODE_KINDS_BY_MESSAGE,
    aggregates_message,
    episode_message,
    equipment_message,
    equipment_model_message,
    series_message,
    signal_definition,
    twin_message,
)
from imcloud_products.domain import services
from imcloud_products.domain.ports import (
    HealthReader,
    TelemetryReader,
    TelemetryUnitOfWork,
    UnitOfWork,
)


def _tenant(context: grpc.ServicerContext) -> str:
    return call_context(context).tenant_id


class ProductsServicer(pb_grpc.ProductsServiceServicer):
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        telemetry: TelemetryReader,
        *,
        health: HealthReader,
        telemetry_unit_of_work: Callable[[], TelemetryUnitOfWork],
        offline_after_ms: int,
    ) -> None:
        self._uow = unit_of_work
        self._telemetry = telemetry
        self._health = health
        self._telemetry_uow = telemetry_unit_of_work
        self._offline_after_ms = offline_after_ms

    # -- equipment models -- (gRPC method names are PascalCase: noqa N802)

    def CreateEquipmentModel(  # noqa: N802
        self, request: pb.CreateEquipmentModelRequest, context: grpc.ServicerContext
    ) -> pb.CreateEquipmentModelResponse:
        model = services.create_equipment_model(
            self._uow(),
            tenant_id=_tenant(context),
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
            tenant_id=_tenant(context),
            model_id=request.equipment_model_id,
        )
        return pb.GetEquipmentModelResponse(equipment_model=equipment_model_message(model))

    def ListEquipmentModels(  # noqa: N802
        self, request: pb.ListEquipmentModelsRequest, context: grpc.ServicerContext
    ) -> pb.ListEquipmentModelsResponse:
        models, token = services.list_equipment_models(
            self._uow(),
            tenant_id=_tenant(context),
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListEquipmentModelsResponse(
            equipment_models=[equipment_model_message(m) for m in models],
            next_page_token=token,
        )

    def UpdateEquipmentModel(  # noqa: N802
        self, request: pb.UpdateEquipmentModelRequest, context: grpc.ServicerContext
    ) -> pb.UpdateEquipmentModelResponse:
        given = request.equipment_model
        model = services.update_equipment_model(
            self._uow(),
            tenant_id=_tenant(context),
            model_id=given.id,
            update_mask=request.update_mask.paths,
            name=given.name,
            manufacturer=given.manufacturer,
            signals=tuple(signal_definition(s) for s in given.signals),
        )
        return pb.UpdateEquipmentModelResponse(equipment_model=equipment_model_message(model))

    def DeleteEquipmentModel(  # noqa: N802
        self, request: pb.DeleteEquipmentModelRequest, context: grpc.ServicerContext
    ) -> pb.DeleteEquipmentModelResponse:
        services.delete_equipment_model(
            self._uow(),
            tenant_id=_tenant(context),
            model_id=request.equipment_model_id,
        )
        return pb.DeleteEquipmentModelResponse()

    # -- equipment --

    def CreateEquipment(  # noqa: N802
        self, request: pb.CreateEquipmentRequest, context: grpc.ServicerContext
    ) -> pb.CreateEquipmentResponse:
        equipment = services.create_equipment(
            self._uow(),
            tenant_id=_tenant(context),
            model_id=request.equipment_model_id,
            serial_number=request.serial_number,
            name=request.name,
            station_id=request.station_id,
        )
        return pb.CreateEquipmentResponse(equipment=equipment_message(equipment))

    def GetEquipment(  # noqa: N802
        self, request: pb.GetEquipmentRequest, context: grpc.ServicerContext
    ) -> pb.GetEquipmentResponse:
        equipment = services.get_equipment(
            self._uow(),
            tenant_id=_tenant(context),
            equipment_id=request.equipment_id,
        )
        return pb.GetEquipmentResponse(equipment=equipment_message(equipment))

    def ListEquipment(  # noqa: N802
        self, request: pb.ListEquipmentRequest, context: grpc.ServicerContext
    ) -> pb.ListEquipmentResponse:
        machines, token = services.list_equipment(
            self._uow(),
            tenant_id=_tenant(context),
            model_id=request.equipment_model_id,
            station_id=request.station_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListEquipmentResponse(
            equipment=[equipment_message(m) for m in machines], next_page_token=token
        )

    def UpdateEquipment(  # noqa: N802
        self, request: pb.UpdateEquipmentRequest, context: grpc.ServicerContext
    ) -> pb.UpdateEquipmentResponse:
        given = request.equipment
        equipment = services.update_equipment(
            self._uow(),
            tenant_id=_tenant(context),
            equipment_id=given.id,
            update_mask=request.update_mask.paths,
            name=given.name,
            serial_number=given.serial_number,
            station_id=given.station_id,
        )
        return pb.UpdateEquipmentResponse(equipment=equipment_message(equipment))

    def DeleteEquipment(  # noqa: N802
        self, request: pb.DeleteEquipmentRequest, context: grpc.ServicerContext
    ) -> pb.DeleteEquipmentResponse:
        services.delete_equipment(
            self._uow(),
            tenant_id=_tenant(context),
            equipment_id=request.equipment_id,
        )
        return pb.DeleteEquipmentResponse()

    # -- telemetry --

    def GetTwin(  # noqa: N802
        self, request: pb.GetTwinRequest, context: grpc.ServicerContext
    ) -> pb.GetTwinResponse:
        return pb.GetTwinResponse(twin=self._twin(_tenant(context), request.equipment_id))

    def _twin(self, tenant_id: str, equipment_id: str) -> pb.Twin:
        twin = services.get_twin(
            self._uow(),
            self._telemetry,
            self._health,
            tenant_id=tenant_id,
            equipment_id=equipment_id,
            now_ms=now_ms(),
            offline_after_ms=self._offline_after_ms,
        )
        return twin_message(twin)

    def BatchGetTwins(  # noqa: N802
        self, request: pb.BatchGetTwinsRequest, context: grpc.ServicerContext
    ) -> pb.BatchGetTwinsResponse:
        twins = services.get_twins(
            self._uow(),
            self._telemetry,
            self._health,
            tenant_id=_tenant(context),
            equipment_ids=list(request.equipment_ids),
            now_ms=now_ms(),
            offline_after_ms=self._offline_after_ms,
        )
        return pb.BatchGetTwinsResponse(twins=[twin_message(twin) for twin in twins])

    def UpdateDesiredState(  # noqa: N802
        self, request: pb.UpdateDesiredStateRequest, context: grpc.ServicerContext
    ) -> pb.UpdateDesiredStateResponse:
        caller = call_context(context)
        services.update_desired_state(
            self._uow(),
            tenant_id=caller.tenant_id,
            equipment_id=request.equipment_id,
            desired_json=request.desired_json,
            version=request.version if request.HasField("version") else None,
            actor=caller.actor,
        )
        return pb.UpdateDesiredStateResponse(
            twin=self._twin(caller.tenant_id, request.equipment_id)
        )

    def ReportDesiredStateApplied(  # noqa: N802
        self, request: pb.ReportDesiredStateAppliedRequest, context: grpc.ServicerContext
    ) -> pb.ReportDesiredStateAppliedResponse:
        applied = services.report_desired_state_applied(
            self._uow(),
            tenant_id=_tenant(context),
            equipment_id=request.equipment_id,
            version=request.version,
            detail=request.detail,
        )
        return pb.ReportDesiredStateAppliedResponse(applied_version=applied)

    def ListTelemetryPoints(  # noqa: N802
        self, request: pb.ListTelemetryPointsRequest, context: grpc.ServicerContext
    ) -> pb.ListTelemetryPointsResponse:
        series, token = services.list_points(
            self._uow(),
            self._telemetry,
            tenant_id=_tenant(context),
            equipment_id=request.equipment_id,
            signals=list(request.signals),
            start_ms=request.start_ms,
            end_ms=request.end_ms,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListTelemetryPointsResponse(
            series=[series_message(s) for s in series], next_page_token=token
        )

    def AggregateTelemetry(  # noqa: N802
        self, request: pb.AggregateTelemetryRequest, context: grpc.ServicerContext
    ) -> pb.AggregateTelemetryResponse:
        aggregates = services.aggregate_points(
            self._uow(),
            self._telemetry,
            tenant_id=_tenant(context),
            equipment_id=request.equipment_id,
            signals=list(request.signals),
            start_ms=request.start_ms,
            end_ms=request.end_ms,
            bucket_ms=request.bucket_ms,
        )
        return pb.AggregateTelemetryResponse(signals=[aggregates_message(a) for a in aggregates])

    # -- equipment health --

    def ListAnomalyEpisodes(  # noqa: N802
        self, request: pb.ListAnomalyEpisodesRequest, context: grpc.ServicerContext
    ) -> pb.ListAnomalyEpisodesResponse:
        episodes, token = services.list_episodes(
            self._uow(),
            self._health,
            tenant_id=_tenant(context),
            equipment_id=request.equipment_id,
            station_ids=list(request.station_ids),
            kind=EPISODE_KINDS_BY_MESSAGE.get(request.kind, ""),
            open_only=request.open_only,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListAnomalyEpisodesResponse(
            episodes=[episode_message(e) for e in episodes], next_page_token=token
        )

    def ResetAnomalyModel(  # noqa: N802
        self, request: pb.ResetAnomalyModelRequest, context: grpc.ServicerContext
    ) -> pb.ResetAnomalyModelResponse:
        services.reset_anomaly_model(
            self._uow(),
            self._telemetry_uow(),
            tenant_id=_tenant(context),
            equipment_id=request.equipment_id,
        )
        return pb.ResetAnomalyModelResponse()


register = registrar(pb, "ProductsService", pb_grpc.add_ProductsServiceServicer_to_server)
