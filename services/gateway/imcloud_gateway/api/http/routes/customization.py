"""Mass customization, kept by the servitization service: product families with
their configurator, quotes dated by production's schedule, and the customer orders
production makes, which their customers follow with an order key.

The gateway checks a definition's form; servitization's configurator judges what
it means and which rules a configuration breaks (422 naming "rules.<name>" or
"selections.<option>").
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, Security, status
from fastapi.security import APIKeyHeader

from imcloud.servitization.v1 import customization_pb2 as pb
from imcloud_core.convert import from_timestamp
from imcloud_core.errors import NotFound
from imcloud_core.rpc import CallContext
from imcloud_gateway.api.http.deps import (
    AdminCall,
    GatewayDep,
    OperatorCall,
    PageSize,
    PageToken,
    ViewerCall,
    limit_anonymous,
)
from imcloud_gateway.api.http.errors import error_responses, request_id
from imcloud_gateway.api.http.routes.production import optional_time
from imcloud_gateway.api.http.routes.work_orders import bom_bodies, routing_bodies
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.customization import (
    AcceptedQuoteResponse,
    CancelOrderRequest,
    ConfigurationResponse,
    ConfigureRequest,
    CreateQuoteRequest,
    GenealogyEquipmentResponse,
    GenealogyOperationResponse,
    GenealogyQualityRecordResponse,
    GenealogyResponse,
    GenealogySignalResponse,
    NumberRange,
    OptionDomainResponse,
    OrderResponse,
    OrderStageResponse,
    OrderStateName,
    OrderStatusResponse,
    ProductFamilyDefinition,
    ProductFamilyResponse,
    QuoteResponse,
    QuoteStateName,
    ShipOrderRequest,
    UpdateProductFamilyRequest,
)
from imcloud_gateway.domain import identity

router = APIRouter(tags=["customization"])

QUOTE_STATES: dict[pb.QuoteState.ValueType, QuoteStateName] = {
    pb.QUOTE_STATE_OPEN: "open",
    pb.QUOTE_STATE_ACCEPTED: "accepted",
    pb.QUOTE_STATE_EXPIRED: "expired",
}
ORDER_STATES: dict[OrderStateName, pb.OrderState.ValueType] = {
    "accepted": pb.ORDER_STATE_ACCEPTED,
    "scheduled": pb.ORDER_STATE_SCHEDULED,
    "in_production": pb.ORDER_STATE_IN_PRODUCTION,
    "completed": pb.ORDER_STATE_COMPLETED,
    "shipped": pb.ORDER_STATE_SHIPPED,
    "cancelled": pb.ORDER_STATE_CANCELLED,
}
ORDER_STATE_NAMES = {number: name for name, number in ORDER_STATES.items()}
# One answer for a missing key, a wrong one and a key of a tenant that left: the
# customer learns nothing but that this key opens no order.
NO_ORDER = "no order has this order key"

_order_key = APIKeyHeader(
    name="X-Order-Key",
    scheme_name="OrderKey",
    auto_error=False,
    description="The order key given when the quote was accepted",
)


def _json(document: str, empty: Any) -> Any:
    return json.loads(document) if document else empty


def family_body(family: pb.ProductFamily) -> ProductFamilyResponse:
    return ProductFamilyResponse.model_validate(
        {
            **json.loads(family.definition_json),
            "id": family.id,
            "revision": family.revision,
            "create_time": from_timestamp(family.create_time),
            "update_time": from_timestamp(family.update_time),
        }
    )


def configuration_body(configuration: pb.Configuration) -> ConfigurationResponse:
    return ConfigurationResponse(
        complete=configuration.complete,
        options=[
            OptionDomainResponse(
                option=domain.option,
                selected=_json(domain.selected_json, None),
                values=_json(domain.values_json, None),
                # A number option always keeps a range in a valid configuration;
                # the other kinds have none.
                ranges=[NumberRange(min=r.min, max=r.max) for r in domain.ranges] or None,
            )
            for domain in configuration.domains
        ],
        derived=_json(configuration.derived_json, {}),
        unit_price=configuration.unit_price if configuration.complete else None,
        currency=configuration.currency,
        family_revision=configuration.family_revision,
    )


def quote_body(quote: pb.Quote) -> QuoteResponse:
    return QuoteResponse(
        id=quote.id,
        family_id=quote.family_id,
        family_revision=quote.family_revision,
        selections=_json(quote.selections_json, {}),
        derived=_json(quote.derived_json, {}),
        quantity=quote.quantity,
        unit_price=quote.unit_price,
        total_price=quote.total_price,
        currency=quote.currency,
        promised_time=from_timestamp(quote.promised_time),
        lead_time_s=quote.lead_time_s,
        schedule_explanation=quote.schedule_explanation,
        state=QUOTE_STATES[quote.state],
        expire_time=from_timestamp(quote.expire_time),
        customer_reference=quote.customer_reference,
        create_time=from_timestamp(quote.create_time),
        bom=bom_bodies(quote.bom),
        routing=routing_bodies(quote.routing),
        order_id=quote.order_id,
    )


def _stages(order: pb.CustomerOrder) -> list[OrderStageResponse]:
    return [
        OrderStageResponse(
            state=ORDER_STATE_NAMES[stage.state],
            time=from_timestamp(stage.time),
            detail=stage.detail,
        )
        for stage in order.stages
    ]


def order_status_body(order: pb.CustomerOrder) -> OrderStatusResponse:
    return OrderStatusResponse(
        id=order.id,
        family_name=order.family_name,
        selections=_json(order.selections_json, {}),
        quantity=order.quantity,
        total_price=order.total_price,
        currency=order.currency,
        state=ORDER_STATE_NAMES[order.state],
        stages=_stages(order),
        promised_time=from_timestamp(order.promised_time),
    )


def order_body(order: pb.CustomerOrder) -> OrderResponse:
    return OrderResponse(
        **order_status_body(order).model_dump(),
        quote_id=order.quote_id,
        family_id=order.family_id,
        derived=_json(order.derived_json, {}),
        customer_reference=order.customer_reference,
        work_order_id=order.work_order_id,
        plant_id=order.plant_id,
        create_time=from_timestamp(order.create_time),
    )


def genealogy_body(genealogy: pb.Genealogy) -> GenealogyResponse:
    return GenealogyResponse(
        order=order_body(genealogy.order),
        bom=bom_bodies(genealogy.bom),
        work_order_id=genealogy.work_order_id,
        operations=[
            GenealogyOperationResponse(
                sequence=operation.sequence,
                name=operation.name,
                station_id=operation.station_id,
                start_time=optional_time(operation, "start_time"),
                end_time=optional_time(operation, "end_time"),
                recipe=_json(operation.recipe_json, None),
                good_quantity=operation.good_quantity,
                scrap_quantity=operation.scrap_quantity,
                equipment=[
                    GenealogyEquipmentResponse(
                        equipment_id=machine.equipment_id,
                        recipe_version=machine.recipe_version,
                        signals=[
                            GenealogySignalResponse(
                                signal=s.signal, count=s.count, min=s.min, max=s.max, mean=s.mean
                            )
                            for s in machine.signals
                        ],
                    )
                    for machine in operation.equipment
                ],
            )
            for operation in genealogy.operations
        ],
        quality_records=[
            GenealogyQualityRecordResponse(
                id=record.id,
                sequence=record.sequence,
                station_id=record.station_id,
                defect_code=record.defect_code,
                quantity=record.quantity,
                scrapped=record.scrapped,
                note=record.note,
                record_time=from_timestamp(record.record_time),
            )
            for record in genealogy.quality_records
        ],
    )


# -- product families --------------------------------------------------------------

FAMILY = "/v1/product-families/{family_id}"


@router.post(
    "/v1/product-families",
    status_code=status.HTTP_201_CREATED,
    summary="Describe a configurable product family",
    description=(
        "Options (choice, number, text), rules (requires, excludes, range, table), formulas, "
        "prices, and a super BOM and super routing whose lines and steps are selected by "
        "conditions on the options; each routing step may carry a recipe for the station's "
        "machines. The whole definition is checked: a condition naming an unknown option, a "
        "text option in a rule, an unknown plant or product is 422 naming the field."
    ),
    responses=error_responses(401, 403, 409, 422, 429, 503),
)
def create_family(
    body: ProductFamilyDefinition, ctx: AdminCall, gateway: GatewayDep
) -> ProductFamilyResponse:
    response = gateway.call(
        gateway.backends.servitization.CreateProductFamily,
        pb.CreateProductFamilyRequest(definition_json=body.definition_json()),
        ctx,
    )
    return family_body(response.family)


@router.get(
    "/v1/product-families",
    summary="List product families, by name",
    responses=error_responses(401, 422, 429, 503),
)
def list_families(
    ctx: ViewerCall, gateway: GatewayDep, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[ProductFamilyResponse]:
    response = gateway.call(
        gateway.backends.servitization.ListProductFamilies,
        pb.ListProductFamiliesRequest(page_size=page_size, page_token=page_token),
        ctx,
    )
    return Page(
        items=[family_body(f) for f in response.families],
        next_page_token=response.next_page_token,
    )


@router.get(FAMILY, summary="One product family", responses=error_responses(401, 404, 429, 503))
def get_family(family_id: str, ctx: ViewerCall, gateway: GatewayDep) -> ProductFamilyResponse:
    response = gateway.call(
        gateway.backends.servitization.GetProductFamily,
        pb.GetProductFamilyRequest(family_id=family_id),
        ctx,
    )
    return family_body(response.family)


@router.put(
    FAMILY,
    summary="Replace a product family's definition",
    description=(
        "Its revision rises by one; quotes keep what they priced. Give the revision you last "
        "read to refuse (409) a change made since."
    ),
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
def update_family(
    family_id: str, body: UpdateProductFamilyRequest, ctx: AdminCall, gateway: GatewayDep
) -> ProductFamilyResponse:
    request = pb.UpdateProductFamilyRequest(
        family_id=family_id, definition_json=body.definition_json()
    )
    if body.revision is not None:
        request.revision = body.revision
    response = gateway.call(gateway.backends.servitization.UpdateProductFamily, request, ctx)
    return family_body(response.family)


@router.post(
    FAMILY + ":configure",
    summary="Check selections and narrow the open options",
    description=(
        "For each option, the values (choice) or ranges (number) that can still be completed "
        "to a valid product, given the selections; complete once every option is chosen, "
        "then priced. Selections no valid product has are 422 naming a minimal set of the "
        "rules they break (rules.<name>), or the option whose own values, range, step or "
        "pattern they miss (selections.<option>). Changes nothing."
    ),
    responses=error_responses(401, 404, 422, 429, 503),
)
def configure(
    family_id: str, body: ConfigureRequest, ctx: ViewerCall, gateway: GatewayDep
) -> ConfigurationResponse:
    response = gateway.call(
        gateway.backends.servitization.ConfigureProduct,
        pb.ConfigureProductRequest(
            family_id=family_id, selections_json=json.dumps(body.selections)
        ),
        ctx,
    )
    return configuration_body(response.configuration)


@router.post(
    FAMILY + ":complete",
    summary="Complete selections to the cheapest valid product",
    description="Keeps the selections; 422 as for :configure when no valid product has them.",
    responses=error_responses(401, 404, 422, 429, 503),
)
def complete(
    family_id: str, body: ConfigureRequest, ctx: ViewerCall, gateway: GatewayDep
) -> ConfigurationResponse:
    response = gateway.call(
        gateway.backends.servitization.CompleteConfiguration,
        pb.CompleteConfigurationRequest(
            family_id=family_id, selections_json=json.dumps(body.selections)
        ),
        ctx,
    )
    return configuration_body(response.configuration)


# -- quotes ------------------------------------------------------------------------

QUOTE = "/v1/quotes/{quote_id}"


@router.post(
    "/v1/quotes",
    status_code=status.HTTP_201_CREATED,
    summary="Quote a configured product: price and promised date",
    description=(
        "The selections must be complete and valid (422 as for :configure). The price comes "
        "from the family; the promised date from the plant's what-if schedule of the routing "
        "the configuration selects, after the plant's released work orders. The quote keeps "
        "that BOM and routing, and can be accepted until expire_time."
    ),
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
def create_quote(body: CreateQuoteRequest, ctx: OperatorCall, gateway: GatewayDep) -> QuoteResponse:
    response = gateway.call(
        gateway.backends.servitization.CreateQuote,
        pb.CreateQuoteRequest(
            family_id=body.family_id,
            selections_json=json.dumps(body.selections),
            quantity=body.quantity,
            customer_reference=body.customer_reference,
        ),
        ctx,
    )
    return quote_body(response.quote)


@router.get(
    "/v1/quotes", summary="List quotes, newest first", responses=error_responses(401, 422, 429, 503)
)
def list_quotes(
    ctx: ViewerCall, gateway: GatewayDep, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[QuoteResponse]:
    response = gateway.call(
        gateway.backends.servitization.ListQuotes,
        pb.ListQuotesRequest(page_size=page_size, page_token=page_token),
        ctx,
    )
    return Page(
        items=[quote_body(q) for q in response.quotes], next_page_token=response.next_page_token
    )


@router.get(QUOTE, summary="One quote", responses=error_responses(401, 404, 429, 503))
def get_quote(quote_id: str, ctx: ViewerCall, gateway: GatewayDep) -> QuoteResponse:
    response = gateway.call(
        gateway.backends.servitization.GetQuote, pb.GetQuoteRequest(quote_id=quote_id), ctx
    )
    return quote_body(response.quote)


@router.post(
    QUOTE + ":accept",
    status_code=status.HTTP_201_CREATED,
    summary="Accept a quote: the order goes to production",
    description=(
        "Production makes a work order with the quoted BOM and routing. The answer carries "
        "the order key for the customer, once: accepting again answers 200 with the same "
        "order and no key. An expired quote is 409."
    ),
    responses={
        200: {"model": AcceptedQuoteResponse, "description": "Accepted before: its order"},
        **error_responses(401, 403, 404, 409, 429, 503),
    },
)
def accept_quote(
    quote_id: str, response: Response, ctx: OperatorCall, gateway: GatewayDep
) -> AcceptedQuoteResponse:
    accepted = gateway.call(
        gateway.backends.servitization.AcceptQuote, pb.AcceptQuoteRequest(quote_id=quote_id), ctx
    )
    if not accepted.order_key:
        response.status_code = status.HTTP_200_OK
    return AcceptedQuoteResponse(
        order=order_body(accepted.order), order_key=accepted.order_key or None
    )


# -- orders ------------------------------------------------------------------------

ORDER = "/v1/orders/{order_id}"


@router.get(
    "/v1/orders",
    summary="List customer orders, newest first",
    responses=error_responses(401, 422, 429, 503),
)
def list_orders(
    ctx: ViewerCall,
    gateway: GatewayDep,
    state: Annotated[
        list[OrderStateName] | None, Query(description="Only orders in these states")
    ] = None,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[OrderResponse]:
    response = gateway.call(
        gateway.backends.servitization.ListOrders,
        pb.ListOrdersRequest(
            page_size=page_size,
            page_token=page_token,
            states=[ORDER_STATES[name] for name in state or []],
        ),
        ctx,
    )
    return Page(
        items=[order_body(o) for o in response.orders], next_page_token=response.next_page_token
    )


@router.get(
    ORDER,
    summary="One customer order with its stages",
    description=(
        "accepted -> scheduled (its work order is released and planned) -> in_production -> "
        "completed -> shipped; or cancelled. Each stage with its time."
    ),
    responses=error_responses(401, 404, 429, 503),
)
def get_order(order_id: str, ctx: ViewerCall, gateway: GatewayDep) -> OrderResponse:
    response = gateway.call(
        gateway.backends.servitization.GetOrder, pb.GetOrderRequest(order_id=order_id), ctx
    )
    return order_body(response.order)


@router.post(
    ORDER + ":cancel",
    summary="Cancel an order",
    description="Production cancels its work order if still open. A completed, shipped or "
    "cancelled order is 409.",
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
def cancel_order(
    order_id: str, body: CancelOrderRequest, ctx: OperatorCall, gateway: GatewayDep
) -> OrderResponse:
    response = gateway.call(
        gateway.backends.servitization.CancelOrder,
        pb.CancelOrderRequest(order_id=order_id, reason=body.reason),
        ctx,
    )
    return order_body(response.order)


@router.post(
    ORDER + ":ship",
    summary="Record the shipment of a completed order",
    description="Only a completed order ships (409 otherwise).",
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
def ship_order(
    order_id: str, body: ShipOrderRequest, ctx: OperatorCall, gateway: GatewayDep
) -> OrderResponse:
    response = gateway.call(
        gateway.backends.servitization.ShipOrder,
        pb.ShipOrderRequest(order_id=order_id, detail=body.detail),
        ctx,
    )
    return order_body(response.order)


@router.get(
    ORDER + "/genealogy",
    summary="Trace an order's units through production",
    description=(
        "The configuration and order, the work order's operations with their stations and "
        "recipes, each machine of the station with the recipe version it acknowledged and "
        "a summary of every signal it recorded while the operation ran, and the quality "
        "records."
    ),
    responses=error_responses(401, 404, 429, 503),
)
def order_genealogy(order_id: str, ctx: ViewerCall, gateway: GatewayDep) -> GenealogyResponse:
    response = gateway.call(
        gateway.backends.servitization.GetOrderGenealogy,
        pb.GetOrderGenealogyRequest(order_id=order_id),
        ctx,
    )
    return genealogy_body(response.genealogy)


@router.get(
    "/v1/order-status",
    summary="(Customers) the status of one's order, with its order key",
    description=(
        "Needs no API key: the X-Order-Key header opens the one order it was given for, and "
        "nothing else. An unknown or missing key is 404."
    ),
    responses=error_responses(404, 429, 503),
)
def order_status(
    request: Request,
    gateway: GatewayDep,
    _: Annotated[None, Depends(limit_anonymous)],
    order_key: Annotated[str | None, Security(_order_key)],
) -> OrderStatusResponse:
    if not order_key:
        raise NotFound(NO_ORDER)
    # No tenant yet: the key alone finds the order (and tells whose it is).
    anyone = CallContext(tenant_id="", actor="customer", request_id=request_id(request))
    try:
        found = gateway.call(
            gateway.backends.servitization.GetOrderByKey,
            pb.GetOrderByKeyRequest(order_key=order_key),
            anyone,
        )
        tenant = identity.get_tenant(gateway.unit_of_work(), tenant_id=found.tenant_id)
    except NotFound:
        raise NotFound(NO_ORDER) from None
    if tenant.offboard_time is not None:
        raise NotFound(NO_ORDER)
    return order_status_body(found.order)
