"""The ServitizationService RPCs of mass customization. Translate, delegate, translate back."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from imcloud.servitization.v1 import customization_pb2 as pb
from imcloud_core.errors import ImcloudError
from imcloud_core.rpc import call_context
from imcloud_servitization.convert import (
    ORDER_STATES_BY_MESSAGE,
    configuration_message,
    family_message,
    genealogy_message,
    order_message,
    quote_message,
)
from imcloud_servitization.domain import customization
from imcloud_servitization.domain.ports import Production, Telemetry, UnitOfWork
from imcloud_servitization.metrics import CONFIGURATIONS, QUOTES, count_order


class CustomizationRpcs:
    _uow: Callable[[], UnitOfWork]
    _production: Production
    _telemetry: Telemetry
    _configurators: customization.Configurators

    def CreateProductFamily(  # noqa: N802 - gRPC method names are PascalCase
        self, request: pb.CreateProductFamilyRequest, context: grpc.ServicerContext
    ) -> pb.CreateProductFamilyResponse:
        family = customization.create_family(
            self._uow(),
            self._production,
            tenant_id=call_context(context).tenant_id,
            definition_json=request.definition_json,
        )
        return pb.CreateProductFamilyResponse(family=family_message(family))

    def GetProductFamily(  # noqa: N802
        self, request: pb.GetProductFamilyRequest, context: grpc.ServicerContext
    ) -> pb.GetProductFamilyResponse:
        family = customization.get_family(
            self._uow(), tenant_id=call_context(context).tenant_id, family_id=request.family_id
        )
        return pb.GetProductFamilyResponse(family=family_message(family))

    def ListProductFamilies(  # noqa: N802
        self, request: pb.ListProductFamiliesRequest, context: grpc.ServicerContext
    ) -> pb.ListProductFamiliesResponse:
        found, token = customization.list_families(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListProductFamiliesResponse(
            families=[family_message(f) for f in found], next_page_token=token
        )

    def UpdateProductFamily(  # noqa: N802
        self, request: pb.UpdateProductFamilyRequest, context: grpc.ServicerContext
    ) -> pb.UpdateProductFamilyResponse:
        family = customization.update_family(
            self._uow(),
            self._production,
            tenant_id=call_context(context).tenant_id,
            family_id=request.family_id,
            definition_json=request.definition_json,
            revision=request.revision if request.HasField("revision") else None,
        )
        return pb.UpdateProductFamilyResponse(family=family_message(family))

    def ConfigureProduct(  # noqa: N802
        self, request: pb.ConfigureProductRequest, context: grpc.ServicerContext
    ) -> pb.ConfigureProductResponse:
        configured = self._configure(request.family_id, request.selections_json, context, False)
        return pb.ConfigureProductResponse(configuration=configuration_message(configured))

    def CompleteConfiguration(  # noqa: N802
        self, request: pb.CompleteConfigurationRequest, context: grpc.ServicerContext
    ) -> pb.CompleteConfigurationResponse:
        configured = self._configure(request.family_id, request.selections_json, context, True)
        return pb.CompleteConfigurationResponse(configuration=configuration_message(configured))

    def CreateQuote(  # noqa: N802
        self, request: pb.CreateQuoteRequest, context: grpc.ServicerContext
    ) -> pb.CreateQuoteResponse:
        quote = customization.create_quote(
            self._uow(),
            self._configurators,
            self._production,
            tenant_id=call_context(context).tenant_id,
            family_id=request.family_id,
            selections_json=request.selections_json,
            quantity=request.quantity,
            customer_reference=request.customer_reference,
        )
        QUOTES.inc()
        return pb.CreateQuoteResponse(quote=quote_message(quote))

    def GetQuote(  # noqa: N802
        self, request: pb.GetQuoteRequest, context: grpc.ServicerContext
    ) -> pb.GetQuoteResponse:
        quote = customization.get_quote(
            self._uow(), tenant_id=call_context(context).tenant_id, quote_id=request.quote_id
        )
        return pb.GetQuoteResponse(quote=quote_message(quote))

    def ListQuotes(  # noqa: N802
        self, request: pb.ListQuotesRequest, context: grpc.ServicerContext
    ) -> pb.ListQuotesResponse:
        found, token = customization.list_quotes(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListQuotesResponse(
            quotes=[quote_message(q) for q in found], next_page_token=token
        )

    def AcceptQuote(  # noqa: N802
        self, request: pb.AcceptQuoteRequest, context: grpc.ServicerContext
    ) -> pb.AcceptQuoteResponse:
        accepted = customization.accept_quote(
            self._uow(), tenant_id=call_context(context).tenant_id, quote_id=request.quote_id
        )
        if accepted.order_key:
            count_order(accepted.order)
        return pb.AcceptQuoteResponse(
            order=order_message(accepted.order), order_key=accepted.order_key
        )

    def GetOrder(  # noqa: N802
        self, request: pb.GetOrderRequest, context: grpc.ServicerContext
    ) -> pb.GetOrderResponse:
        order = customization.get_order(
            self._uow(), tenant_id=call_context(context).tenant_id, order_id=request.order_id
        )
        return pb.GetOrderResponse(order=order_message(order))

    def ListOrders(  # noqa: N802
        self, request: pb.ListOrdersRequest, context: grpc.ServicerContext
    ) -> pb.ListOrdersResponse:
        found, token = customization.list_orders(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            states=[
                ORDER_STATES_BY_MESSAGE[s] for s in request.states if s in ORDER_STATES_BY_MESSAGE
            ],
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListOrdersResponse(
            orders=[order_message(o) for o in found], next_page_token=token
        )

    def CancelOrder(  # noqa: N802
        self, request: pb.CancelOrderRequest, context: grpc.ServicerContext
    ) -> pb.CancelOrderResponse:
        order = customization.cancel_order(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            order_id=request.order_id,
            reason=request.reason,
        )
        count_order(order)
        return pb.CancelOrderResponse(order=order_message(order))

    def ShipOrder(  # noqa: N802
        self, request: pb.ShipOrderRequest, context: grpc.ServicerContext
    ) -> pb.ShipOrderResponse:
        order = customization.ship_order(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            order_id=request.order_id,
            detail=request.detail,
        )
        count_order(order)
        return pb.ShipOrderResponse(order=order_message(order))

    def GetOrderByKey(  # noqa: N802
        self, request: pb.GetOrderByKeyRequest, context: grpc.ServicerContext
    ) -> pb.GetOrderByKeyResponse:
        # The one call without a tenant: the gateway asks it for a customer who
        # holds only the key, and the key names the tenant.
        order = customization.order_by_key(self._uow(), order_key=request.order_key)
        return pb.GetOrderByKeyResponse(order=order_message(order), tenant_id=order.tenant_id)

    def GetOrderGenealogy(  # noqa: N802
        self, request: pb.GetOrderGenealogyRequest, context: grpc.ServicerContext
    ) -> pb.GetOrderGenealogyResponse:
        genealogy = customization.genealogy(
            self._uow(),
            self._production,
            self._telemetry,
            tenant_id=call_context(context).tenant_id,
            order_id=request.order_id,
        )
        return pb.GetOrderGenealogyResponse(genealogy=genealogy_message(genealogy))

    def _configure(
        self, family_id: str, selections_json: str, context: grpc.ServicerContext, complete: bool
    ) -> customization.Configured:
        try:
            configured = customization.configure(
                self._uow(),
                self._configurators,
                tenant_id=call_context(context).tenant_id,
                family_id=family_id,
                selections_json=selections_json,
                complete=complete,
            )
        except ImcloudError as error:
            CONFIGURATIONS.labels(error.code.value).inc()
            raise
        CONFIGURATIONS.labels("complete" if configured.configuration.complete else "open").inc()
        return configured
