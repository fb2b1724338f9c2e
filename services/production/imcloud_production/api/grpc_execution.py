"""The ProductionService RPCs of execution: calendars, catalog, work orders,
quality, timelines, stops and OEE. Translate, delegate, translate back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import grpc
from google.protobuf.message import Message

from imcloud.production.v1 import production_service_pb2 as pb
from imcloud_core.convert import from_timestamp
from imcloud_core.errors import FieldViolation, InvalidArgument
from imcloud_core.ids import utcnow
from imcloud_core.rpc import call_context
from imcloud_production import convert
from imcloud_production.domain import floor, monitoring, planning
from imcloud_production.domain.execution import DowntimeReason, PlannedDowntime, QualityRecord
from imcloud_production.domain.ports import ExecutionUnitOfWork, RecipeTarget

BREAKDOWNS = {
    pb.OEE_BREAKDOWN_UNSPECIFIED: "",
    pb.OEE_BREAKDOWN_STATION: "station",
    pb.OEE_BREAKDOWN_SHIFT: "shift",
}


def _tenant(context: grpc.ServicerContext) -> str:
    return call_context(context).tenant_id


def _time(message: Message, field: str) -> datetime:
    """A required timestamp field of a request."""
    if not message.HasField(field):
        raise InvalidArgument(
            f"{field} is required", violations=(FieldViolation(field, "must be set"),)
        )
    return from_timestamp(getattr(message, field))


def _scope(request: pb.GetOeeRequest | pb.ListDowntimesRequest) -> tuple[str, str]:
    named = [
        (kind, value)
        for kind, value in (
            ("station", request.station_id),
            ("line", request.line_id),
            ("plant", request.plant_id),
        )
        if value
    ]
    if len(named) != 1:
        raise InvalidArgument(
            "name exactly one of station_id, line_id, plant_id",
            violations=(
                FieldViolation("station_id", "exactly one of station_id, line_id, plant_id"),
            ),
        )
    return named[0]


# gRPC method names are PascalCase, hence the noqa: N802 on each.
class ExecutionRpcs:
    _execution: Callable[[], ExecutionUnitOfWork]
    _recipes: RecipeTarget

    # -- calendars -----------------------------------------------------------------

    def SetShiftCalendar(  # noqa: N802
        self, request: pb.SetShiftCalendarRequest, context: grpc.ServicerContext
    ) -> pb.SetShiftCalendarResponse:
        result = planning.set_calendar(
            self._execution(),
            tenant_id=_tenant(context),
            calendar=convert.calendar_from(request.calendar),
            effective=(
                from_timestamp(request.effective_time)
                if request.HasField("effective_time")
                else None
            ),
        )
        return pb.SetShiftCalendarResponse(
            calendar=convert.calendar_message(
                result.calendar, (result.effective, result.update_time)
            )
        )

    def GetShiftCalendar(  # noqa: N802
        self, request: pb.GetShiftCalendarRequest, context: grpc.ServicerContext
    ) -> pb.GetShiftCalendarResponse:
        calendar, times = planning.get_calendar(
            self._execution(), tenant_id=_tenant(context), plant_id=request.plant_id
        )
        return pb.GetShiftCalendarResponse(calendar=convert.calendar_message(calendar, times))

    def ListShifts(  # noqa: N802
        self, request: pb.ListShiftsRequest, context: grpc.ServicerContext
    ) -> pb.ListShiftsResponse:
        shifts = planning.list_shifts(
            self._execution(),
            tenant_id=_tenant(context),
            plant_id=request.plant_id,
            start=_time(request, "start_time"),
            end=_time(request, "end_time"),
        )
        return pb.ListShiftsResponse(
            shifts=[convert.shift_message(request.plant_id, s) for s in shifts]
        )

    def CreatePlannedDowntime(  # noqa: N802
        self, request: pb.CreatePlannedDowntimeRequest, context: grpc.ServicerContext
    ) -> pb.CreatePlannedDowntimeResponse:
        given = request.planned_downtime
        downtime = planning.create_planned_downtime(
            self._execution(),
            downtime=PlannedDowntime(
                id="",
                tenant_id=_tenant(context),
                plant_id=given.plant_id,
                station_id=given.station_id,
                kind=convert.known(convert.DOWNTIME_KINDS, given.kind, field="kind"),
                start_time=_time(given, "start_time"),
                end_time=_time(given, "end_time"),
                reason=given.reason,
                create_time=utcnow(),
            ),
        )
        return pb.CreatePlannedDowntimeResponse(
            planned_downtime=convert.planned_downtime_message(downtime)
        )

    def ListPlannedDowntimes(  # noqa: N802
        self, request: pb.ListPlannedDowntimesRequest, context: grpc.ServicerContext
    ) -> pb.ListPlannedDowntimesResponse:
        downtimes, token = planning.list_planned_downtimes(
            self._execution(),
            tenant_id=_tenant(context),
            plant_id=request.plant_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListPlannedDowntimesResponse(
            planned_downtimes=[convert.planned_downtime_message(d) for d in downtimes],
            next_page_token=token,
        )

    def DeletePlannedDowntime(  # noqa: N802
        self, request: pb.DeletePlannedDowntimeRequest, context: grpc.ServicerContext
    ) -> pb.DeletePlannedDowntimeResponse:
        planning.delete_planned_downtime(
            self._execution(),
            tenant_id=_tenant(context),
            downtime_id=request.planned_downtime_id,
        )
        return pb.DeletePlannedDowntimeResponse()

    # -- catalog -------------------------------------------------------------------

    def CreateProduct(  # noqa: N802
        self, request: pb.CreateProductRequest, context: grpc.ServicerContext
    ) -> pb.CreateProductResponse:
        product = planning.create_product(
            self._execution(), product=convert.product_from(_tenant(context), request.product)
        )
        return pb.CreateProductResponse(product=convert.product_message(product))

    def GetProduct(  # noqa: N802
        self, request: pb.GetProductRequest, context: grpc.ServicerContext
    ) -> pb.GetProductResponse:
        product, first_pass_yield = planning.get_product(
            self._execution(), tenant_id=_tenant(context), product_id=request.product_id
        )
        return pb.GetProductResponse(product=convert.product_message(product, first_pass_yield))

    def ListProducts(  # noqa: N802
        self, request: pb.ListProductsRequest, context: grpc.ServicerContext
    ) -> pb.ListProductsResponse:
        products, token = planning.list_products(
            self._execution(),
            tenant_id=_tenant(context),
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListProductsResponse(
            products=[convert.product_message(p, fpy) for p, fpy in products],
            next_page_token=token,
        )

    def SetStateMapping(  # noqa: N802
        self, request: pb.SetStateMappingRequest, context: grpc.ServicerContext
    ) -> pb.SetStateMappingResponse:
        mapping = planning.set_state_mapping(
            self._execution(),
            mapping=convert.mapping_from(_tenant(context), request.mapping, utcnow()),
        )
        return pb.SetStateMappingResponse(mapping=convert.mapping_message(mapping))

    def GetStateMapping(  # noqa: N802
        self, request: pb.GetStateMappingRequest, context: grpc.ServicerContext
    ) -> pb.GetStateMappingResponse:
        mapping = planning.get_state_mapping(
            self._execution(),
            tenant_id=_tenant(context),
            equipment_model_id=request.equipment_model_id,
        )
        return pb.GetStateMappingResponse(mapping=convert.mapping_message(mapping))

    # -- work orders ---------------------------------------------------------------

    def CreateWorkOrder(  # noqa: N802
        self, request: pb.CreateWorkOrderRequest, context: grpc.ServicerContext
    ) -> pb.CreateWorkOrderResponse:
        order = floor.create_work_order(
            self._execution(),
            tenant_id=_tenant(context),
            product_id=request.product_id,
            plant_id=request.plant_id,
            quantity=request.quantity,
            due_time=_time(request, "due_time"),
            priority=request.priority,
            note=request.note,
        )
        return pb.CreateWorkOrderResponse(work_order=convert.work_order_message(order))

    def GetWorkOrder(  # noqa: N802
        self, request: pb.GetWorkOrderRequest, context: grpc.ServicerContext
    ) -> pb.GetWorkOrderResponse:
        order = floor.get_work_order(
            self._execution(), tenant_id=_tenant(context), work_order_id=request.work_order_id
        )
        return pb.GetWorkOrderResponse(work_order=convert.work_order_message(order))

    def ListWorkOrders(  # noqa: N802
        self, request: pb.ListWorkOrdersRequest, context: grpc.ServicerContext
    ) -> pb.ListWorkOrdersResponse:
        orders, token = floor.list_work_orders(
            self._execution(),
            tenant_id=_tenant(context),
            states=[
                convert.known(convert.WORK_ORDER_STATES, s, field=f"states[{n}]")
                for n, s in enumerate(request.states)
            ],
            plant_id=request.plant_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListWorkOrdersResponse(
            work_orders=[convert.work_order_message(o) for o in orders], next_page_token=token
        )

    def ReleaseWorkOrder(  # noqa: N802
        self, request: pb.ReleaseWorkOrderRequest, context: grpc.ServicerContext
    ) -> pb.ReleaseWorkOrderResponse:
        order = floor.release_work_order(
            self._execution(), tenant_id=_tenant(context), work_order_id=request.work_order_id
        )
        return pb.ReleaseWorkOrderResponse(work_order=convert.work_order_message(order))

    def StartOperation(  # noqa: N802
        self, request: pb.StartOperationRequest, context: grpc.ServicerContext
    ) -> pb.StartOperationResponse:
        order = floor.start_operation(
            self._execution(),
            self._recipes,
            tenant_id=_tenant(context),
            work_order_id=request.work_order_id,
            sequence=request.sequence,
            station_id=request.station_id,
        )
        return pb.StartOperationResponse(work_order=convert.work_order_message(order))

    def CompleteOperation(  # noqa: N802
        self, request: pb.CompleteOperationRequest, context: grpc.ServicerContext
    ) -> pb.CompleteOperationResponse:
        order = floor.complete_operation(
            self._execution(),
            tenant_id=_tenant(context),
            work_order_id=request.work_order_id,
            sequence=request.sequence,
        )
        return pb.CompleteOperationResponse(work_order=convert.work_order_message(order))

    def ReportCounts(  # noqa: N802
        self, request: pb.ReportCountsRequest, context: grpc.ServicerContext
    ) -> pb.ReportCountsResponse:
        order = floor.report_counts(
            self._execution(),
            tenant_id=_tenant(context),
            work_order_id=request.work_order_id,
            sequence=request.sequence,
            good=request.good_quantity,
            scrap=request.scrap_quantity,
        )
        return pb.ReportCountsResponse(work_order=convert.work_order_message(order))

    def CancelWorkOrder(  # noqa: N802
        self, request: pb.CancelWorkOrderRequest, context: grpc.ServicerContext
    ) -> pb.CancelWorkOrderResponse:
        order = floor.cancel_work_order(
            self._execution(),
            tenant_id=_tenant(context),
            work_order_id=request.work_order_id,
            reason=request.reason,
        )
        return pb.CancelWorkOrderResponse(work_order=convert.work_order_message(order))

    # -- quality -------------------------------------------------------------------

    def RecordQuality(  # noqa: N802
        self, request: pb.RecordQualityRequest, context: grpc.ServicerContext
    ) -> pb.RecordQualityResponse:
        given = request.record
        record = floor.record_quality(
            self._execution(),
            record=QualityRecord(
                id="",
                tenant_id=_tenant(context),
                work_order_id=given.work_order_id,
                sequence=given.sequence,
                station_id="",
                defect_code=given.defect_code,
                quantity=given.quantity,
                scrapped=given.scrapped,
                note=given.note,
                create_time=utcnow(),
            ),
        )
        return pb.RecordQualityResponse(record=convert.quality_record_message(record))

    def ListQualityRecords(  # noqa: N802
        self, request: pb.ListQualityRecordsRequest, context: grpc.ServicerContext
    ) -> pb.ListQualityRecordsResponse:
        records, token = floor.list_quality_records(
            self._execution(),
            tenant_id=_tenant(context),
            work_order_id=request.work_order_id,
            station_id=request.station_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListQualityRecordsResponse(
            records=[convert.quality_record_message(r) for r in records], next_page_token=token
        )

    # -- timelines, stops, OEE -------------------------------------------------------

    def ListStateIntervals(  # noqa: N802
        self, request: pb.ListStateIntervalsRequest, context: grpc.ServicerContext
    ) -> pb.ListStateIntervalsResponse:
        entries, truncated = monitoring.list_state_intervals(
            self._execution(),
            tenant_id=_tenant(context),
            station_id=request.station_id,
            start=_time(request, "start_time"),
            end=_time(request, "end_time"),
            now=utcnow(),
        )
        return pb.ListStateIntervalsResponse(
            intervals=[convert.interval_message(request.station_id, e) for e in entries],
            truncated=truncated,
        )

    def CreateDowntimeReason(  # noqa: N802
        self, request: pb.CreateDowntimeReasonRequest, context: grpc.ServicerContext
    ) -> pb.CreateDowntimeReasonResponse:
        given = request.reason
        reason = monitoring.create_downtime_reason(
            self._execution(),
            reason=DowntimeReason(
                tenant_id=_tenant(context),
                code=given.code,
                name=given.name,
                parent_code=given.parent_code,
                category=convert.known(convert.LOSS_CATEGORIES, given.category, field="category"),
            ),
        )
        return pb.CreateDowntimeReasonResponse(reason=convert.reason_message(reason))

    def ListDowntimeReasons(  # noqa: N802
        self, request: pb.ListDowntimeReasonsRequest, context: grpc.ServicerContext
    ) -> pb.ListDowntimeReasonsResponse:
        reasons = monitoring.list_downtime_reasons(self._execution(), tenant_id=_tenant(context))
        return pb.ListDowntimeReasonsResponse(reasons=[convert.reason_message(r) for r in reasons])

    def ListDowntimes(  # noqa: N802
        self, request: pb.ListDowntimesRequest, context: grpc.ServicerContext
    ) -> pb.ListDowntimesResponse:
        kind, scope_id = _scope(request)
        downtimes, token = monitoring.list_downtimes(
            self._execution(),
            tenant_id=_tenant(context),
            scope=(f"{kind}_id", scope_id),
            start=_time(request, "start_time"),
            end=_time(request, "end_time"),
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListDowntimesResponse(
            downtimes=[convert.downtime_message(d) for d in downtimes], next_page_token=token
        )

    def AssignDowntimeReason(  # noqa: N802
        self, request: pb.AssignDowntimeReasonRequest, context: grpc.ServicerContext
    ) -> pb.AssignDowntimeReasonResponse:
        call = call_context(context)
        downtime = monitoring.assign_downtime_reason(
            self._execution(),
            tenant_id=call.tenant_id,
            downtime_id=request.downtime_id,
            reason_code=request.reason_code,
            actor=call.actor,
        )
        return pb.AssignDowntimeReasonResponse(downtime=convert.downtime_message(downtime))

    def GetOee(  # noqa: N802
        self, request: pb.GetOeeRequest, context: grpc.ServicerContext
    ) -> pb.GetOeeResponse:
        whole, parts = monitoring.oee(
            self._execution(),
            tenant_id=_tenant(context),
            scope=_scope(request),
            start=_time(request, "start_time"),
            end=_time(request, "end_time"),
            breakdown=convert.known(BREAKDOWNS, request.breakdown, field="breakdown"),
            now=utcnow(),
        )
        return pb.GetOeeResponse(
            total=convert.oee_message(whole), parts=[convert.oee_message(p) for p in parts]
        )
