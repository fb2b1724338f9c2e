"""The production service as servitization asks it: for maintenance, suggested
windows and planned downtime booked for a ticket; for mass customization, the
plants and products a family names, what-if quotes and the work orders that make
customer orders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import grpc
from google.protobuf.message import Message

from imcloud.production.v1 import calendar_pb2, schedule_pb2, work_orders_pb2
from imcloud.production.v1 import production_service_pb2 as pb
from imcloud.production.v1.production_service_pb2_grpc import ProductionServiceStub
from imcloud_core.convert import from_timestamp, timestamp
from imcloud_core.errors import FailedPrecondition, NotFound
from imcloud_core.paging import MAX_PAGE_SIZE, every_page
from imcloud_core.rpc import CallContext, call
from imcloud_servitization import convert
from imcloud_servitization.domain.alarms import AlarmScope, ShiftFigures
from imcloud_servitization.domain.configurator import SelectedBomLine, SelectedStep
from imcloud_servitization.domain.customization import (
    QualityRecord,
    RecipeMachine,
    TracedOperation,
    TracedWorkOrder,
    WorkOrderQuote,
)
from imcloud_servitization.domain.model import (
    DelayedWorkOrder,
    MaintenanceBooking,
    MaintenanceWindow,
)

DEADLINE_S = 10.0
ACTOR = "servitization"


class ProductionScheduler:
    def __init__(self, channel: grpc.Channel) -> None:
        self._stub = ProductionServiceStub(channel)

    def suggest_windows(
        self, *, tenant_id: str, station_id: str, duration_s: int, not_after: datetime, count: int
    ) -> list[MaintenanceWindow]:
        response = call(
            self._stub.SuggestMaintenanceWindows,
            pb.SuggestMaintenanceWindowsRequest(
                station_id=station_id,
                duration_s=duration_s,
                not_after=timestamp(not_after),
                count=count,
            ),
            ctx=_context(tenant_id),
            deadline_s=DEADLINE_S,
        )
        return [window_from(window) for window in response.windows]

    def book(
        self, *, tenant_id: str, station_id: str, start: datetime, end: datetime, label: str
    ) -> MaintenanceBooking:
        ctx = _context(tenant_id)
        station = call(
            self._stub.GetStation,
            pb.GetStationRequest(station_id=station_id),
            ctx=ctx,
            deadline_s=DEADLINE_S,
        ).station
        earlier = next(
            (
                item
                for item in self._downtimes(ctx, station.plant_id)
                if item.reason.startswith(label)
                and item.station_id == station_id
                and from_timestamp(item.start_time) == start
                and from_timestamp(item.end_time) == end
            ),
            None,
        )
        booked = (
            earlier
            or call(
                self._stub.CreatePlannedDowntime,
                pb.CreatePlannedDowntimeRequest(
                    planned_downtime=calendar_pb2.PlannedDowntime(
                        plant_id=station.plant_id,
                        station_id=station_id,
                        kind=calendar_pb2.PLANNED_DOWNTIME_KIND_MAINTENANCE,
                        start_time=timestamp(start),
                        end_time=timestamp(end),
                        reason=label,
                    )
                ),
                ctx=ctx,
                deadline_s=DEADLINE_S,
            ).planned_downtime
        )
        return MaintenanceBooking(
            planned_downtime_id=booked.id,
            plant_id=booked.plant_id,
            station_id=booked.station_id,
            start_time=from_timestamp(booked.start_time),
            end_time=from_timestamp(booked.end_time),
        )

    def unbook(self, *, tenant_id: str, booking: MaintenanceBooking) -> bool:
        try:
            call(
                self._stub.DeletePlannedDowntime,
                pb.DeletePlannedDowntimeRequest(planned_downtime_id=booking.planned_downtime_id),
                ctx=_context(tenant_id),
                deadline_s=DEADLINE_S,
            )
        except NotFound:
            return True
        except FailedPrecondition:
            # Production keeps downtime that has begun as part of the record.
            return False
        return True

    def _downtimes(self, ctx: CallContext, plant_id: str) -> list[calendar_pb2.PlannedDowntime]:
        return every_page(
            lambda token: _page(
                call(
                    self._stub.ListPlannedDowntimes,
                    pb.ListPlannedDowntimesRequest(
                        plant_id=plant_id, page_size=MAX_PAGE_SIZE, page_token=token
                    ),
                    ctx=ctx,
                    deadline_s=DEADLINE_S,
                )
            )
        )


class ProductionOrders:
    def __init__(self, channel: grpc.Channel) -> None:
        self._stub = ProductionServiceStub(channel)

    def has_plant(self, *, tenant_id: str, plant_id: str) -> bool:
        return self._exists(self._stub.GetPlant, pb.GetPlantRequest(plant_id=plant_id), tenant_id)

    def has_product(self, *, tenant_id: str, product_id: str) -> bool:
        return self._exists(
            self._stub.GetProduct, pb.GetProductRequest(product_id=product_id), tenant_id
        )

    def quote(
        self,
        *,
        tenant_id: str,
        plant_id: str,
        product_id: str,
        quantity: int,
        routing: Sequence[SelectedStep],
    ) -> WorkOrderQuote:
        response = call(
            self._stub.QuoteWorkOrder,
            pb.QuoteWorkOrderRequest(
                plant_id=plant_id,
                product_id=product_id,
                quantity=quantity,
                routing=convert.routing_messages(routing),
            ),
            ctx=_context(tenant_id),
            deadline_s=DEADLINE_S,
        )
        return WorkOrderQuote(from_timestamp(response.end_time), response.explanation)

    def work_order(self, *, tenant_id: str, work_order_id: str) -> TracedWorkOrder | None:
        try:
            order = call(
                self._stub.GetWorkOrder,
                pb.GetWorkOrderRequest(work_order_id=work_order_id),
                ctx=_context(tenant_id),
                deadline_s=DEADLINE_S,
            ).work_order
        except NotFound:
            return None
        return TracedWorkOrder(
            id=order.id,
            bom=tuple(
                SelectedBomLine(line.component_part_number, line.quantity, line.unit)
                for line in order.bom
            ),
            operations=tuple(_operation(operation) for operation in order.operations),
        )

    def quality_records(self, *, tenant_id: str, work_order_id: str) -> list[QualityRecord]:
        ctx = _context(tenant_id)
        found = every_page(
            lambda token: _records_page(
                call(
                    self._stub.ListQualityRecords,
                    pb.ListQualityRecordsRequest(
                        work_order_id=work_order_id, page_size=MAX_PAGE_SIZE, page_token=token
                    ),
                    ctx=ctx,
                    deadline_s=DEADLINE_S,
                )
            )
        )
        return [
            QualityRecord(
                id=record.id,
                sequence=record.sequence,
                station_id=record.station_id,
                defect_code=record.defect_code,
                quantity=record.quantity,
                scrapped=record.scrapped,
                note=record.note,
                record_time=from_timestamp(record.record_time),
            )
            for record in found
        ]

    def _exists(self, method: Callable[..., Message], request: Message, tenant_id: str) -> bool:
        try:
            call(method, request, ctx=_context(tenant_id), deadline_s=DEADLINE_S)
        except NotFound:
            return False
        return True


class ProductionShiftKpis:
    """OEE per shift, for the KPI alarm rules."""

    def __init__(self, channel: grpc.Channel) -> None:
        self._stub = ProductionServiceStub(channel)

    def per_shift(
        self, *, tenant_id: str, scope: AlarmScope, start: datetime, end: datetime
    ) -> list[ShiftFigures]:
        response = call(
            self._stub.GetOee,
            pb.GetOeeRequest(
                **{f"{scope.kind.value}_id": scope.id},
                start_time=timestamp(start),
                end_time=timestamp(end),
                breakdown=pb.OEE_BREAKDOWN_SHIFT,
            ),
            ctx=_context(tenant_id),
            deadline_s=DEADLINE_S,
        )
        return [
            ShiftFigures(
                name=part.shift,
                start=from_timestamp(part.start_time),
                end=from_timestamp(part.end_time),
                **{
                    kpi: getattr(part, kpi) if part.HasField(kpi) else None
                    for kpi in ("oee", "availability", "performance", "quality")
                },
            )
            for part in response.parts
        ]


def _operation(message: work_orders_pb2.Operation) -> TracedOperation:
    return TracedOperation(
        sequence=message.sequence,
        name=message.name,
        station_id=message.station_id,
        start_time=from_timestamp(message.start_time) if message.HasField("start_time") else None,
        end_time=from_timestamp(message.end_time) if message.HasField("end_time") else None,
        recipe_json=message.recipe_json,
        good_quantity=message.good_quantity,
        scrap_quantity=message.scrap_quantity,
        recipe_machines=tuple(
            RecipeMachine(delivery.equipment_id, delivery.desired_version)
            for delivery in message.recipe_deliveries
        ),
    )


def _records_page(
    response: pb.ListQualityRecordsResponse,
) -> tuple[list[work_orders_pb2.QualityRecord], str]:
    return list(response.records), response.next_page_token


def _page(
    response: pb.ListPlannedDowntimesResponse,
) -> tuple[list[calendar_pb2.PlannedDowntime], str]:
    return list(response.planned_downtimes), response.next_page_token


def _context(tenant_id: str) -> CallContext:
    return CallContext(tenant_id=tenant_id, actor=ACTOR)


def window_from(message: schedule_pb2.MaintenanceWindow) -> MaintenanceWindow:
    return MaintenanceWindow(
        station_id=message.station_id,
        plant_id=message.plant_id,
        start_time=from_timestamp(message.start_time),
        end_time=from_timestamp(message.end_time),
        displaced_operation_s=message.displaced_operation_s,
        idle_s=message.idle_s,
        planned_stop_s=message.planned_stop_s,
        non_working_s=message.non_working_s,
        delayed_work_orders=tuple(
            DelayedWorkOrder(o.work_order_id, o.delay_s, o.added_lateness_s)
            for o in message.delayed_work_orders
        ),
        added_lateness_s=message.added_lateness_s,
        explanation=message.explanation,
    )
