"""Webhooks and e-mail: a tenant's notification channels and their delivery log.

Every event of the tenant whose type matches a channel's patterns is delivered
to it once: a webhook gets a POST signed with the channel's secret
(``X-Imcloud-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``),
an e-mail recipient a mail with the event. Failed attempts are retried with
exponential backoff, then dead-lettered; the delivery log shows each.

Every route needs an admin, as the API keys do: a receiver's URL often holds a
credential of its own (a chat webhook's token).
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from imcloud.servitization.v1 import webhooks_pb2 as pb
from imcloud_core.convert import from_timestamp
from imcloud_gateway.api.http.deps import AdminCall, GatewayDep, PageSize, PageToken
from imcloud_gateway.api.http.errors import error_responses
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.webhooks import (
    CreateWebhookRequest,
    DeliveryResponse,
    WebhookResponse,
)

router = APIRouter(tags=["servitization"])

KINDS = {
    pb.NOTIFICATION_CHANNEL_KIND_WEBHOOK: "webhook",
    pb.NOTIFICATION_CHANNEL_KIND_EMAIL: "email",
}
STATES = {
    pb.DELIVERY_STATE_PENDING: "pending",
    pb.DELIVERY_STATE_DELIVERED: "delivered",
    pb.DELIVERY_STATE_DEAD_LETTER: "dead_letter",
}


def webhook_body(channel: pb.NotificationChannel) -> WebhookResponse:
    return WebhookResponse(
        id=channel.id,
        kind=KINDS[channel.kind],  # type: ignore[arg-type]
        url=channel.url,
        email=channel.email,
        event_types=list(channel.event_types),
        description=channel.description,
        secret=channel.secret or None,
        create_time=from_timestamp(channel.create_time),
    )


def delivery_body(delivery: pb.NotificationDelivery) -> DeliveryResponse:
    return DeliveryResponse(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        state=STATES[delivery.state],  # type: ignore[arg-type]
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        next_attempt_time=(
            from_timestamp(delivery.next_attempt_time)
            if delivery.HasField("next_attempt_time")
            else None
        ),
        create_time=from_timestamp(delivery.create_time),
        update_time=from_timestamp(delivery.update_time),
    )


@router.post(
    "/v1/webhooks",
    status_code=status.HTTP_201_CREATED,
    summary="Add a webhook or an e-mail recipient for the tenant's events",
    description=(
        "Give url (http or https) or email, and the event type patterns to send. The answer "
        "holds the webhook's signing secret, this once. Each event is POSTed as JSON "
        "{id, type, tenant_id, occurred_at, data} with X-Imcloud-Event-Id, "
        "X-Imcloud-Event-Type and X-Imcloud-Signature (t=<unix seconds>,v1=<hex HMAC-SHA256 "
        'of "<t>.<body>" with the secret>); any answer but 2xx, or none in time, is retried '
        "with exponential backoff, then dead-lettered."
    ),
    responses=error_responses(401, 403, 422, 429, 503),
)
def create_webhook(
    body: CreateWebhookRequest, ctx: AdminCall, gateway: GatewayDep
) -> WebhookResponse:
    response = gateway.call(
        gateway.backends.servitization.CreateNotificationChannel,
        pb.CreateNotificationChannelRequest(
            url=body.url or "",
            email=body.email or "",
            event_types=body.event_types,
            description=body.description,
        ),
        ctx,
    )
    return webhook_body(response.channel)


@router.get(
    "/v1/webhooks",
    summary="The tenant's webhooks and e-mail recipients, oldest first",
    responses=error_responses(401, 403, 422, 429, 503),
)
def list_webhooks(
    ctx: AdminCall, gateway: GatewayDep, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[WebhookResponse]:
    response = gateway.call(
        gateway.backends.servitization.ListNotificationChannels,
        pb.ListNotificationChannelsRequest(page_size=page_size, page_token=page_token),
        ctx,
    )
    return Page(
        items=[webhook_body(c) for c in response.channels],
        next_page_token=response.next_page_token,
    )


@router.get(
    "/v1/webhooks/{webhook_id}",
    summary="A webhook or e-mail recipient (without its secret)",
    responses=error_responses(401, 403, 404, 429, 503),
)
def get_webhook(webhook_id: str, ctx: AdminCall, gateway: GatewayDep) -> WebhookResponse:
    response = gateway.call(
        gateway.backends.servitization.GetNotificationChannel,
        pb.GetNotificationChannelRequest(channel_id=webhook_id),
        ctx,
    )
    return webhook_body(response.channel)


@router.delete(
    "/v1/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a webhook or e-mail recipient",
    description="Its deliveries still pending are dead-lettered.",
    responses=error_responses(401, 403, 404, 429, 503),
)
def delete_webhook(webhook_id: str, ctx: AdminCall, gateway: GatewayDep) -> Response:
    gateway.call(
        gateway.backends.servitization.DeleteNotificationChannel,
        pb.DeleteNotificationChannelRequest(channel_id=webhook_id),
        ctx,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/v1/webhooks/{webhook_id}/deliveries",
    summary="A webhook's delivery log, oldest first",
    description="One entry per event: pending, delivered or dead_letter, with its attempts.",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def list_webhook_deliveries(
    webhook_id: str,
    ctx: AdminCall,
    gateway: GatewayDep,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[DeliveryResponse]:
    response = gateway.call(
        gateway.backends.servitization.ListNotificationDeliveries,
        pb.ListNotificationDeliveriesRequest(
            channel_id=webhook_id, page_size=page_size, page_token=page_token
        ),
        ctx,
    )
    return Page(
        items=[delivery_body(d) for d in response.deliveries],
        next_page_token=response.next_page_token,
    )
