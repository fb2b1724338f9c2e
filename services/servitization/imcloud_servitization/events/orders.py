"""What production tells about the work orders that make customer orders: each
customer order follows its work order's stages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from imcloud.common.v1.events_pb2 import EventEnvelope
from imcloud.production.v1 import events_pb2 as pb
from imcloud.production.v1 import work_orders_pb2
from imcloud_core.bus import Record
from imcloud_core.convert import from_timestamp
from imcloud_core.events import parse_envelope, unpack
from imcloud_core.logging import get_logger
from imcloud_servitization.domain import customization
from imcloud_servitization.domain.customization import OrderState
from imcloud_servitization.domain.ports import UnitOfWork
from imcloud_servitization.metrics import count_order

log = get_logger(__name__)

GROUP = "servitization.orders"
# Each piece of news: the message, the state it brings the order to (None: the
# work order only exists), and the work order's time of that stage.
NEWS: tuple[tuple[type, OrderState | None, str], ...] = (
    (pb.WorkOrderCreated, None, "create_time"),
    (pb.WorkOrderReleased, OrderState.SCHEDULED, "release_time"),
    (pb.WorkOrderStarted, OrderState.IN_PRODUCTION, "start_time"),
    (pb.WorkOrderCompleted, OrderState.COMPLETED, "end_time"),
    (pb.WorkOrderCancelled, OrderState.CANCELLED, "end_time"),
)


def _news(
    envelope: EventEnvelope,
) -> tuple[work_orders_pb2.WorkOrder, OrderState | None, str] | None:
    for message_type, state, time_field in NEWS:
        news = unpack(envelope, message_type)
        if news is not None:
            return news.work_order, state, time_field
    return None


def _time(stamp: Timestamp, envelope: EventEnvelope) -> datetime:
    # The event's own time when the work order lacks the stage's (an older producer).
    return from_timestamp(stamp if stamp.seconds or stamp.nanos else envelope.occurred_at)


def work_order_news_handler(
    unit_of_work: Callable[[], UnitOfWork],
) -> Callable[[Sequence[Record]], None]:
    """Moves each customer order on with its work order; a redelivery or older news
    changes nothing, and news of an order the tenant does not have is skipped.
    A record that cannot be read raises, so the bus dead-letters it."""

    def handle(batch: Sequence[Record]) -> None:
        for record in batch:
            envelope = parse_envelope(record.value)
            news = _news(envelope)
            if news is None or not news[0].customer_order_id:
                continue
            work_order, state, time_field = news
            moved = customization.follow_work_order(
                unit_of_work(),
                tenant_id=envelope.tenant_id,
                order_id=work_order.customer_order_id,
                work_order_id=work_order.id,
                to=state,
                at=_time(getattr(work_order, time_field), envelope),
                detail=work_order.cancel_reason if state is OrderState.CANCELLED else "",
            )
            if moved is not None:
                count_order(moved)
                log.info("customer order moved on", order_id=moved.id, state=moved.state.value)

    return handle
