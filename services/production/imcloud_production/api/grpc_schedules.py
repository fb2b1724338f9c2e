"""The ProductionService RPCs of the scheduler: schedules, ETAs and quotes.
Translate, delegate, translate back."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from imcloud.production.v1 import production_service_pb2 as pb
from imcloud_core.convert import from_timestamp, timestamp
from imcloud_core.rpc import call_context
from imcloud_production import convert
from imcloud_production.api.metrics import observe_schedule
from imcloud_production.domain import schedules
from imcloud_production.domain.ports import ExecutionUnitOfWork
from imcloud_production.settings import SchedulingSettings


class ScheduleRpcs:
    _execution: Callable[[], ExecutionUnitOfWork]
    _scheduling: SchedulingSettings

    def GetSchedule(  # noqa: N802
        self, request: pb.GetScheduleRequest, context: grpc.ServicerContext
    ) -> pb.GetScheduleResponse:
        schedule = schedules.get_schedule(
            self._execution(),
            tenant_id=call_context(context).tenant_id,
            plant_id=request.plant_id,
            line_id=request.line_id,
            station_id=request.station_id,
            start=from_timestamp(request.start_time) if request.HasField("start_time") else None,
            end=from_timestamp(request.end_time) if request.HasField("end_time") else None,
        )
        return pb.GetScheduleResponse(schedule=convert.schedule_message(request.plant_id, schedule))

    def RefreshSchedule(  # noqa: N802
        self, request: pb.RefreshScheduleRequest, context: grpc.ServicerContext
    ) -> pb.RefreshScheduleResponse:
        schedule = schedules.refresh(
            self._execution,
            self._scheduling,
            tenant_id=call_context(context).tenant_id,
            plant_id=request.plant_id,
        )
        observe_schedule(schedule)
        return pb.RefreshScheduleResponse(
            schedule=convert.schedule_message(request.plant_id, schedule)
        )

    def GetWorkOrderEta(  # noqa: N802
        self, request: pb.GetWorkOrderEtaRequest, context: grpc.ServicerContext
    ) -> pb.GetWorkOrderEtaResponse:
        eta = schedules.get_eta(
            self._execution(),
            tenant_id=call_context(context).tenant_id,
            work_order_id=request.work_order_id,
        )
        return pb.GetWorkOrderEtaResponse(eta=convert.eta_message(eta))

    def QuoteWorkOrder(  # noqa: N802
        self, request: pb.QuoteWorkOrderRequest, context: grpc.ServicerContext
    ) -> pb.QuoteWorkOrderResponse:
        quote = schedules.quote(
            self._execution,
            self._scheduling,
            tenant_id=call_context(context).tenant_id,
            plant_id=request.plant_id,
            product_id=request.product_id,
            quantity=request.quantity,
            due_time=from_timestamp(request.due_time) if request.HasField("due_time") else None,
            priority=request.priority,
        )
        return pb.QuoteWorkOrderResponse(
            end_time=timestamp(quote.eta.end_time),
            lateness_s=quote.eta.lateness_s,
            explanation=quote.eta.explanation,
            status=convert.SCHEDULE_STATUSES[quote.status],
            delayed=[convert.eta_message(eta) for eta in quote.delayed],
            operations=[convert.planned_operation_message(o) for o in quote.operations],
        )
