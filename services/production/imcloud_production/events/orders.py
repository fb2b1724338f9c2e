"""Customer orders production makes (imcloud.orders.v1, from servitization): a
placed order becomes a work order, released at once when it can be; a cancelled
one cancels its work order."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import Counter

from imcloud.servitization.v1 import customization_pb2
from imcloud_core.bus import Record
from imcloud_core.convert import from_timestamp
from imcloud_core.errors import AlreadyExists, InvalidArgument
from imcloud_core.events import parse_envelope, unpack
from imcloud_production import convert
from imcloud_production.domain import floor
from imcloud_production.domain.ports import ExecutionUnitOfWork
from imcloud_production.domain.work_orders import WorkOrderState
from imcloud_production.events.machines import UnreadableRecord

ORDERS_GROUP = "production.customer-orders"

CUSTOMER_ORDERS = Counter(
    "imcloud_production_customer_orders_total",
    "Customer order events taken, by what became of their work order",
    ["outcome"],
)


def order_handler(
    unit_of_work: Callable[[], ExecutionUnitOfWork],
) -> Callable[[Sequence[Record]], None]:
    """Each record in a transaction of its own; a redelivered order finds its work
    order by the customer order id and creates nothing."""

    def handle(records: Sequence[Record]) -> None:
        for record in records:
            try:
                envelope = parse_envelope(record.value)
                placed = unpack(envelope, customization_pb2.OrderPlaced)
                cancelled = unpack(envelope, customization_pb2.OrderCancelled)
            except Exception as error:
                raise UnreadableRecord(f"not an order production can read: {error}") from error
            if placed is not None:
                _placed(unit_of_work, envelope.tenant_id, placed)
            elif cancelled is not None:
                _cancelled(unit_of_work, envelope.tenant_id, cancelled)

    return handle


def _placed(
    unit_of_work: Callable[[], ExecutionUnitOfWork],
    tenant_id: str,
    placed: customization_pb2.OrderPlaced,
) -> None:
    order = placed.order
    if not tenant_id or not order.id or not order.HasField("promised_time"):
        raise UnreadableRecord("an order.placed needs a tenant, an order id and a promised time")
    try:
        made = floor.place_customer_order(
            unit_of_work(),
            tenant_id=tenant_id,
            customer_order_id=order.id,
            customer_reference=order.customer_reference,
            product_id=placed.product_id,
            plant_id=order.plant_id,
            quantity=order.quantity,
            due_time=from_timestamp(order.promised_time),
            bom=convert.bom_from(placed.bom),
            routing=convert.routing_from(placed.routing),
        )
    except AlreadyExists:
        # Placed twice at once: the other delivery created the work order.
        CUSTOMER_ORDERS.labels("duplicate").inc()
        return
    except InvalidArgument as error:
        fields = "; ".join(f"{v.field}: {v.reason}" for v in error.violations)
        raise UnreadableRecord(f"order {order.id!r} cannot be made: {error} ({fields})") from error
    released = made.state is not WorkOrderState.PLANNED
    CUSTOMER_ORDERS.labels("released" if released else "planned").inc()


def _cancelled(
    unit_of_work: Callable[[], ExecutionUnitOfWork],
    tenant_id: str,
    cancelled: customization_pb2.OrderCancelled,
) -> None:
    if not tenant_id or not cancelled.order_id:
        raise UnreadableRecord("an order.cancelled needs a tenant and an order id")
    order = floor.cancel_customer_order(
        unit_of_work(),
        tenant_id=tenant_id,
        customer_order_id=cancelled.order_id,
        reason=cancelled.reason,
    )
    if order is not None:
        CUSTOMER_ORDERS.labels("cancelled").inc()
