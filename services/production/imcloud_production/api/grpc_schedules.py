"""The ProductionService RPCs of the scheduler: schedules, ETAs and quotes.
Translate, delegate, translate back."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator

import grpc

from imcloud.production.v1 import production_service_pb2 as pb
from imcloud_core.convert import from_timestamp, timestamp
from imcloud_core.errors import FieldViolation, InvalidArgument, ResourceExhausted
from imcloud_core.rpc import call_context
from imcloud_production import convert
from imcloud_production.api.metrics import observe_schedule
from imcloud_production.domain import schedules
from imcloud_production.domain.ports import ExecutionUnitOfWork
from imcloud_production.settings import SchedulingSettings

# Time a solving call keeps for reading the plant and storing the plan, beside the solver's.
DEADLINE_MARGIN_S = 1.0


class SolverSlots:
    """At most one solving call (a refresh or a quote) per tenant at a time, and at
    most one per core in all: a tenant asking in a loop is told to wait instead of
    taking the cores from every other tenant."""

    def __init__(self, total: int | None = None) -> None:
        self._total = total or os.cpu_count() or 1
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def taken(self, tenant_id: str) -> Iterator[None]:
        with self._lock:
            if tenant_id in self._busy:
                raise ResourceExhausted(
                    "a schedule refresh or quote of this tenant is being computed; one at a time",
                    retry_after_s=1.0,
                )
            if len(self._busy) >= self._total:
                raise ResourceExhausted(
                    "the scheduler is busy with other tenants' requests", retry_after_s=1.0
                )
            self._busy.add(tenant_id)
        try:
            yield
        finally:
            with self._lock:
                self._busy.discard(tenant_id)


class ScheduleRpcs:
    _execution: Callable[[], ExecutionUnitOfWork]
    _scheduling: SchedulingSettings
    _solver_slots: SolverSlots

    def _within_deadline(self, context: grpc.ServicerContext) -> SchedulingSettings:
        """The settings with time limits the caller's deadline leaves room for: a
        solver time-out returns the best plan found, a missed deadline nothing."""
        remaining = context.time_remaining()
        if remaining is None:
            return self._scheduling
        budget = max(0.5, remaining - DEADLINE_MARGIN_S)
        return self._scheduling.model_copy(
            update={
                "time_limit_s": min(self._scheduling.time_limit_s, budget),
                "repair_time_limit_s": min(self._scheduling.repair_time_limit_s, budget),
            }
        )

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
        tenant_id = call_context(context).tenant_id
        with self._solver_slots.taken(tenant_id):
            schedule = schedules.refresh(
                self._execution,
                self._within_deadline(context),
                tenant_id=tenant_id,
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
        tenant_id = call_context(context).tenant_id
        with self._solver_slots.taken(tenant_id):
            quote = schedules.quote(
                self._execution,
                self._within_deadline(context),
                tenant_id=tenant_id,
                plant_id=request.plant_id,
                product_id=request.product_id,
                quantity=request.quantity,
                due_time=from_timestamp(request.due_time) if request.HasField("due_time") else None,
                priority=request.priority,
                routing=convert.routing_from(request.routing),
            )
        return pb.QuoteWorkOrderResponse(
            end_time=timestamp(quote.eta.end_time),
            lateness_s=quote.eta.lateness_s,
            explanation=quote.eta.explanation,
            status=convert.SCHEDULE_STATUSES[quote.status],
            delayed=[convert.eta_message(eta) for eta in quote.delayed],
            operations=[convert.planned_operation_message(o) for o in quote.operations],
        )

    def SuggestMaintenanceWindows(  # noqa: N802
        self, request: pb.SuggestMaintenanceWindowsRequest, context: grpc.ServicerContext
    ) -> pb.SuggestMaintenanceWindowsResponse:
        if not request.HasField("not_after"):
            raise InvalidArgument(
                "the maintenance window request is not valid",
                violations=(FieldViolation("not_after", "is required"),),
            )
        found = schedules.suggest_maintenance_windows(
            self._execution,
            self._scheduling,
            tenant_id=call_context(context).tenant_id,
            station_id=request.station_id,
            duration_s=request.duration_s,
            not_after=from_timestamp(request.not_after),
            count=request.count,
        )
        return pb.SuggestMaintenanceWindowsResponse(
            windows=[convert.maintenance_window_message(w) for w in found.windows],
            schedule_revision=found.revision,
        )
