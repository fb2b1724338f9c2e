"""What plants make and how it goes: products with routings and bills of
materials, work orders through their life, and quality records.

Stored by the production service. A work order moves planned -> released ->
running -> completed, or to cancelled; a step its state does not allow is a 409.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from imcloud.production.v1 import catalog_pb2 as catalog_pb
from imcloud.production.v1 import production_service_pb2 as pb
from imcloud.production.v1 import work_orders_pb2 as orders_pb
from imcloud_core.convert import from_timestamp, timestamp
from imcloud_gateway.api.http.deps import (
    AdminCall,
    GatewayDep,
    OperatorCall,
    PageSize,
    PageToken,
    ViewerCall,
)
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.routes.production import optional_time
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.work_orders import (
    MAX_SEQUENCE,
    BomLineBody,
    CancelWorkOrderRequest,
    CreateProductRequest,
    CreateWorkOrderRequest,
    OperationResponse,
    OperationStateName,
    ProductResponse,
    QualityRecordResponse,
    RecipeDeliveryResponse,
    RecordQualityRequest,
    ReportCountsRequest,
    RoutingStepBody,
    StartOperationRequest,
    WorkOrderResponse,
    WorkOrderStateName,
)

router = APIRouter(tags=["production"])

WORK_ORDER_STATES: dict[WorkOrderStateName, orders_pb.WorkOrderState.ValueType] = {
    "planned": orders_pb.WORK_ORDER_STATE_PLANNED,
    "released": orders_pb.WORK_ORDER_STATE_RELEASED,
    "running": orders_pb.WORK_ORDER_STATE_RUNNING,
    "completed": orders_pb.WORK_ORDER_STATE_COMPLETED,
    "cancelled": orders_pb.WORK_ORDER_STATE_CANCELLED,
}
WORK_ORDER_STATE_NAMES = {number: name for name, number in WORK_ORDER_STATES.items()}
OPERATION_STATE_NAMES: dict[orders_pb.OperationState.ValueType, OperationStateName] = {
    orders_pb.OPERATION_STATE_PENDING: "pending",
    orders_pb.OPERATION_STATE_STARTING: "starting",
    orders_pb.OPERATION_STATE_RUNNING: "running",
    orders_pb.OPERATION_STATE_DONE: "done",
}

IdFilter = Annotated[str, Query(max_length=36)]
OperationSequence = Annotated[
    int, Path(ge=1, le=MAX_SEQUENCE, description="The operation's place in the routing, from 1")
]
# A step of a work order's life: refused (409) where its state does not allow it.
TRANSITION_ERRORS = error_responses(401, 403, 404, 409, 422, 429, 503)


def _recipe(recipe_json: str) -> dict[str, Any] | None:
    return json.loads(recipe_json) if recipe_json else None


def routing_bodies(routing: Iterable[catalog_pb.RoutingStep]) -> list[RoutingStepBody]:
    return [
        RoutingStepBody(
            name=step.name,
            capability=step.capability,
            setup_time_s=step.setup_time_s,
            ideal_cycle_time_s=step.ideal_cycle_time_s,
            recipe=_recipe(step.recipe_json),
        )
        for step in routing
    ]


def bom_bodies(bom: Iterable[catalog_pb.BomLine]) -> list[BomLineBody]:
    return [
        BomLineBody(
            component_part_number=line.component_part_number,
            quantity=line.quantity,
            unit=line.unit,
        )
        for line in bom
    ]


def product_body(product: catalog_pb.Product) -> ProductResponse:
    return ProductResponse(
        id=product.id,
        part_number=product.part_number,
        name=product.name,
        unit=product.unit,
        routing=routing_bodies(product.routing),
        bom=bom_bodies(product.bom),
        create_time=from_timestamp(product.create_time),
        first_pass_yield=(
            product.first_pass_yield if product.HasField("first_pass_yield") else None
        ),
    )


def operation_body(operation: orders_pb.Operation) -> OperationResponse:
    return OperationResponse(
        sequence=operation.sequence,
        name=operation.name,
        capability=operation.capability,
        setup_time_s=operation.setup_time_s,
        ideal_cycle_time_s=operation.ideal_cycle_time_s,
        station_id=operation.station_id,
        state=OPERATION_STATE_NAMES[operation.state],
        good_quantity=operation.good_quantity,
        scrap_quantity=operation.scrap_quantity,
        start_time=optional_time(operation, "start_time"),
        end_time=optional_time(operation, "end_time"),
        recipe=_recipe(operation.recipe_json),
        recipe_deliveries=[
            RecipeDeliveryResponse(
                equipment_id=delivery.equipment_id,
                desired_version=delivery.desired_version,
                applied_time=optional_time(delivery, "applied_time"),
            )
            for delivery in operation.recipe_deliveries
        ],
    )


def work_order_body(order: orders_pb.WorkOrder) -> WorkOrderResponse:
    return WorkOrderResponse(
        id=order.id,
        product_id=order.product_id,
        part_number=order.part_number,
        plant_id=order.plant_id,
        quantity=order.quantity,
        due_time=from_timestamp(order.due_time),
        priority=order.priority,
        state=WORK_ORDER_STATE_NAMES[order.state],
        cancel_reason=order.cancel_reason,
        note=order.note,
        customer_order_id=order.customer_order_id,
        bom=bom_bodies(order.bom),
        routing=routing_bodies(order.routing),
        operations=[operation_body(o) for o in order.operations],
        good_quantity=order.good_quantity,
        scrap_quantity=order.scrap_quantity,
        first_pass_yield=order.first_pass_yield if order.HasField("first_pass_yield") else None,
        create_time=from_timestamp(order.create_time),
        release_time=optional_time(order, "release_time"),
        start_time=optional_time(order, "start_time"),
        end_time=optional_time(order, "end_time"),
    )


def quality_record_body(record: orders_pb.QualityRecord) -> QualityRecordResponse:
    return QualityRecordResponse(
        id=record.id,
        work_order_id=record.work_order_id,
        sequence=record.sequence,
        station_id=record.station_id,
        defect_code=record.defect_code,
        quantity=record.quantity,
        scrapped=record.scrapped,
        note=record.note,
        record_time=from_timestamp(record.record_time),
    )


# -- products ----------------------------------------------------------------------


@router.post(
    "/v1/products",
    status_code=status.HTTP_201_CREATED,
    summary="Add a product with its routing and bill of materials",
    description=(
        "Part numbers are unique within the tenant (409 otherwise). Each routing step needs "
        "a capability some station of the tenant offers (422 naming the step's capability)."
    ),
    responses=error_responses(401, 403, 409, 422, 429, 503),
)
def create_product(
    body: CreateProductRequest, ctx: AdminCall, gateway: GatewayDep
) -> ProductResponse:
    response = gateway.call(
        gateway.backends.production.CreateProduct,
        pb.CreateProductRequest(
            product=catalog_pb.Product(
                part_number=body.part_number,
                name=body.name,
                unit=body.unit,
                routing=[
                    catalog_pb.RoutingStep(
                        **step.model_dump(exclude={"recipe"}), recipe_json=step.recipe_json()
                    )
                    for step in body.routing
                ],
                bom=[catalog_pb.BomLine(**line.model_dump()) for line in body.bom],
            )
        ),
        ctx,
    )
    return product_body(response.product)


@router.get(
    "/v1/products/{product_id}",
    summary="Get a product",
    responses=error_responses(401, 404, 429, 503),
)
def get_product(product_id: str, ctx: ViewerCall, gateway: GatewayDep) -> ProductResponse:
    response = gateway.call(
        gateway.backends.production.GetProduct, pb.GetProductRequest(product_id=product_id), ctx
    )
    return product_body(response.product)


@router.get(
    "/v1/products",
    summary="List products, oldest first",
    responses=error_responses(401, 422, 429, 503),
)
def list_products(
    ctx: ViewerCall,
    gateway: GatewayDep,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[ProductResponse]:
    response = gateway.call(
        gateway.backends.production.ListProducts,
        pb.ListProductsRequest(page_size=page_size, page_token=page_token),
        ctx,
    )
    return Page(
        items=[product_body(p) for p in response.products],
        next_page_token=response.next_page_token,
    )


# -- work orders -------------------------------------------------------------------


@router.post(
    "/v1/work-orders",
    status_code=status.HTTP_201_CREATED,
    summary="Plan a work order",
    description=(
        "A quantity of a product, due at a time, for a plant. An unknown product_id or "
        "plant_id is a 422 naming that field. The order is planned until released."
    ),
    responses=error_responses(401, 403, 409, 422, 429, 503),
)
def create_work_order(
    body: CreateWorkOrderRequest, ctx: OperatorCall, gateway: GatewayDep
) -> WorkOrderResponse:
    response = gateway.call(
        gateway.backends.production.CreateWorkOrder,
        pb.CreateWorkOrderRequest(
            product_id=body.product_id,
            plant_id=body.plant_id,
            quantity=body.quantity,
            due_time=timestamp(body.due_time),
            priority=body.priority,
            note=body.note,
        ),
        ctx,
    )
    return work_order_body(response.work_order)


@router.get(
    "/v1/work-orders/{work_order_id}",
    summary="Get a work order",
    responses=error_responses(401, 404, 429, 503),
)
def get_work_order(work_order_id: str, ctx: ViewerCall, gateway: GatewayDep) -> WorkOrderResponse:
    response = gateway.call(
        gateway.backends.production.GetWorkOrder,
        pb.GetWorkOrderRequest(work_order_id=work_order_id),
        ctx,
    )
    return work_order_body(response.work_order)


@router.get(
    "/v1/work-orders",
    summary="List work orders, oldest first",
    description="state (repeatable) and plant_id each narrow the list when given.",
    responses=error_responses(401, 422, 429, 503),
)
def list_work_orders(
    ctx: ViewerCall,
    gateway: GatewayDep,
    state: Annotated[
        list[WorkOrderStateName], Query(max_length=5, description="Only orders in these states")
    ] = [],  # noqa: B006 - FastAPI copies query defaults
    plant_id: IdFilter = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[WorkOrderResponse]:
    response = gateway.call(
        gateway.backends.production.ListWorkOrders,
        pb.ListWorkOrdersRequest(
            states=[WORK_ORDER_STATES[s] for s in state],
            plant_id=plant_id,
            page_size=page_size,
            page_token=page_token,
        ),
        ctx,
    )
    return Page(
        items=[work_order_body(o) for o in response.work_orders],
        next_page_token=response.next_page_token,
    )


@router.post(
    "/v1/work-orders/{work_order_id}:release",
    summary="Release a planned work order to the shop floor",
    description=(
        "Copies the order's own routing (a customized product's), else the product's, into "
        "its operations. Refused (409) unless the order is planned, or while no station "
        "offers a step's capability."
    ),
    responses=TRANSITION_ERRORS,
)
def release_work_order(
    work_order_id: str, ctx: OperatorCall, gateway: GatewayDep
) -> WorkOrderResponse:
    response = gateway.call(
        gateway.backends.production.ReleaseWorkOrder,
        pb.ReleaseWorkOrderRequest(work_order_id=work_order_id),
        ctx,
    )
    return work_order_body(response.work_order)


@router.post(
    "/v1/work-orders/{work_order_id}:cancel",
    summary="Cancel a work order, with a reason",
    description="A planned, released or running order can be cancelled; others: 409.",
    responses=TRANSITION_ERRORS,
)
def cancel_work_order(
    work_order_id: str, body: CancelWorkOrderRequest, ctx: OperatorCall, gateway: GatewayDep
) -> WorkOrderResponse:
    response = gateway.call(
        gateway.backends.production.CancelWorkOrder,
        pb.CancelWorkOrderRequest(work_order_id=work_order_id, reason=body.reason),
        ctx,
    )
    return work_order_body(response.work_order)


@router.post(
    "/v1/work-orders/{work_order_id}/operations/{sequence}:start",
    summary="Start an operation at a station",
    description=(
        "The station must be of the order's plant, offer the operation's capability and run "
        "no other operation (422 naming station_id); the order must be released or running "
        "(409). From now on the station's counts go to this operation. An operation with a "
        "recipe first gives it to every machine at the station as desired state (409 when "
        "the station has none, 503 when the machines' twins cannot be reached) and is "
        "starting until each machine applied it; then it runs, and counts go to it."
    ),
    responses=TRANSITION_ERRORS,
)
def start_operation(
    work_order_id: str,
    sequence: OperationSequence,
    body: StartOperationRequest,
    ctx: OperatorCall,
    gateway: GatewayDep,
) -> WorkOrderResponse:
    response = gateway.call(
        gateway.backends.production.StartOperation,
        pb.StartOperationRequest(
            work_order_id=work_order_id, sequence=sequence, station_id=body.station_id
        ),
        ctx,
    )
    return work_order_body(response.work_order)


@router.post(
    "/v1/work-orders/{work_order_id}/operations/{sequence}:complete",
    summary="Complete a running operation",
    description="Completing the last operation completes the work order.",
    responses=TRANSITION_ERRORS,
)
def complete_operation(
    work_order_id: str, sequence: OperationSequence, ctx: OperatorCall, gateway: GatewayDep
) -> WorkOrderResponse:
    response = gateway.call(
        gateway.backends.production.CompleteOperation,
        pb.CompleteOperationRequest(work_order_id=work_order_id, sequence=sequence),
        ctx,
    )
    return work_order_body(response.work_order)


@router.put(
    "/v1/work-orders/{work_order_id}/operations/{sequence}/counts",
    summary="Report an operation's good and scrap totals",
    description=(
        "For stations whose machines do not count. Totals never decrease (422 naming the "
        "field); a completed or cancelled order takes no counts (409)."
    ),
    responses=TRANSITION_ERRORS,
)
def report_counts(
    work_order_id: str,
    sequence: OperationSequence,
    body: ReportCountsRequest,
    ctx: OperatorCall,
    gateway: GatewayDep,
) -> WorkOrderResponse:
    response = gateway.call(
        gateway.backends.production.ReportCounts,
        pb.ReportCountsRequest(
            work_order_id=work_order_id,
            sequence=sequence,
            good_quantity=body.good_quantity,
            scrap_quantity=body.scrap_quantity,
        ),
        ctx,
    )
    return work_order_body(response.work_order)


# -- quality records ---------------------------------------------------------------


@router.post(
    "/v1/quality-records",
    status_code=status.HTTP_201_CREATED,
    summary="Record a defect or scrap against an operation",
    description=(
        "The record takes the operation's station. An unknown work_order_id or sequence is "
        "a 422 naming that field; an operation not yet started is a 409."
    ),
    responses=error_responses(401, 403, 409, 422, 429, 503),
)
def record_quality(
    body: RecordQualityRequest, ctx: OperatorCall, gateway: GatewayDep
) -> QualityRecordResponse:
    response = gateway.call(
        gateway.backends.production.RecordQuality,
        pb.RecordQualityRequest(
            record=orders_pb.QualityRecord(
                work_order_id=body.work_order_id,
                sequence=body.sequence,
                defect_code=body.defect_code,
                quantity=body.quantity,
                scrapped=body.scrapped,
                note=body.note,
            )
        ),
        ctx,
    )
    return quality_record_body(response.record)


@router.get(
    "/v1/quality-records",
    summary="List quality records, newest first",
    description="work_order_id and station_id each narrow the list when given.",
    responses=error_responses(401, 422, 429, 503),
)
def list_quality_records(
    ctx: ViewerCall,
    gateway: GatewayDep,
    work_order_id: IdFilter = "",
    station_id: IdFilter = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[QualityRecordResponse]:
    response = gateway.call(
        gateway.backends.production.ListQualityRecords,
        pb.ListQualityRecordsRequest(
            work_order_id=work_order_id,
            station_id=station_id,
            page_size=page_size,
            page_token=page_token,
        ),
        ctx,
    )
    return Page(
        items=[quality_record_body(r) for r in response.records],
        next_page_token=response.next_page_token,
    )
