"""The ServitizationService RPCs of webhooks and e-mail. Translate, delegate,
translate back."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from imcloud.servitization.v1 import webhooks_pb2 as pb
from imcloud_core.convert import timestamp
from imcloud_core.ids import utcnow
from imcloud_core.rpc import call_context
from imcloud_servitization.domain import webhooks
from imcloud_servitization.domain.ports import UnitOfWork
from imcloud_servitization.domain.webhooks import Channel, ChannelKind, Delivery, DeliveryState
from imcloud_servitization.metrics import NOTIFICATION_DELIVERIES

CHANNEL_KINDS = {
    ChannelKind.WEBHOOK: pb.NOTIFICATION_CHANNEL_KIND_WEBHOOK,
    ChannelKind.EMAIL: pb.NOTIFICATION_CHANNEL_KIND_EMAIL,
}
DELIVERY_STATES = {
    DeliveryState.PENDING: pb.DELIVERY_STATE_PENDING,
    DeliveryState.DELIVERED: pb.DELIVERY_STATE_DELIVERED,
    DeliveryState.DEAD_LETTER: pb.DELIVERY_STATE_DEAD_LETTER,
}


def channel_message(channel: Channel, *, with_secret: bool = False) -> pb.NotificationChannel:
    return pb.NotificationChannel(
        id=channel.id,
        kind=CHANNEL_KINDS[channel.kind],
        url=channel.url,
        email=channel.email,
        event_types=channel.event_types,
        description=channel.description,
        secret=channel.secret if with_secret else "",
        create_time=timestamp(channel.create_time),
    )


def delivery_message(delivery: Delivery) -> pb.NotificationDelivery:
    message = pb.NotificationDelivery(
        id=delivery.id,
        channel_id=delivery.channel_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        state=DELIVERY_STATES[delivery.state],
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        create_time=timestamp(delivery.create_time),
        update_time=timestamp(delivery.update_time),
    )
    if delivery.next_attempt_time is not None:
        message.next_attempt_time.CopyFrom(timestamp(delivery.next_attempt_time))
    return message


class WebhookRpcs:
    _uow: Callable[[], UnitOfWork]

    def CreateNotificationChannel(  # noqa: N802 - gRPC method names are PascalCase
        self, request: pb.CreateNotificationChannelRequest, context: grpc.ServicerContext
    ) -> pb.CreateNotificationChannelResponse:
        channel = webhooks.create_channel(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            url=request.url,
            email=request.email,
            event_types=list(request.event_types),
            description=request.description,
            now=utcnow(),
        )
        return pb.CreateNotificationChannelResponse(
            channel=channel_message(channel, with_secret=True)
        )

    def GetNotificationChannel(  # noqa: N802
        self, request: pb.GetNotificationChannelRequest, context: grpc.ServicerContext
    ) -> pb.GetNotificationChannelResponse:
        channel = webhooks.get_channel(
            self._uow(), tenant_id=call_context(context).tenant_id, channel_id=request.channel_id
        )
        return pb.GetNotificationChannelResponse(channel=channel_message(channel))

    def ListNotificationChannels(  # noqa: N802
        self, request: pb.ListNotificationChannelsRequest, context: grpc.ServicerContext
    ) -> pb.ListNotificationChannelsResponse:
        found, token = webhooks.list_channels(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListNotificationChannelsResponse(
            channels=[channel_message(c) for c in found], next_page_token=token
        )

    def DeleteNotificationChannel(  # noqa: N802
        self, request: pb.DeleteNotificationChannelRequest, context: grpc.ServicerContext
    ) -> pb.DeleteNotificationChannelResponse:
        given_up = webhooks.delete_channel(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            channel_id=request.channel_id,
            now=utcnow(),
        )
        NOTIFICATION_DELIVERIES.labels("dead_letter").inc(given_up)
        return pb.DeleteNotificationChannelResponse()

    def ListNotificationDeliveries(  # noqa: N802
        self, request: pb.ListNotificationDeliveriesRequest, context: grpc.ServicerContext
    ) -> pb.ListNotificationDeliveriesResponse:
        found, token = webhooks.list_deliveries(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            channel_id=request.channel_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListNotificationDeliveriesResponse(
            deliveries=[delivery_message(d) for d in found], next_page_token=token
        )
