"""Bodies of the webhook and e-mail notification routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from imcloud_gateway.api.http.schemas.common import Body

# As long as an event type may be.
PATTERN_MAX = 120


class CreateWebhookRequest(Body):
    """A webhook (url) or an e-mail recipient (email): exactly one of the two."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/imcloud",
                    "event_types": ["alarm.*", "maintenance_ticket.opened"],
                    "description": "On-call paging",
                },
                {"email": "ops@example.com", "event_types": ["anomaly_episode.*"]},
            ]
        },
    )

    url: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        description="The receiver: an http or https URL, sent a signed POST per event",
    )
    email: str | None = Field(
        None, min_length=3, max_length=254, description="The recipient of an e-mail per event"
    )
    event_types: list[Annotated[str, Field(min_length=1, max_length=PATTERN_MAX)]] = Field(
        min_length=1,
        max_length=20,
        description='Event type patterns: "<aggregate>.*", "<aggregate>.<event>" or "*", '
        'e.g. "alarm.*", "anomaly_episode.opened", "work_order.*"',
    )
    description: str = Field("", max_length=500)


class WebhookResponse(BaseModel):
    id: str
    kind: Literal["webhook", "email"]
    url: str = Field(description="Empty for an e-mail recipient")
    email: str = Field(description="Empty for a webhook")
    event_types: list[str]
    description: str
    secret: str | None = Field(
        None,
        description="The signing secret (X-Imcloud-Signature): only in the answer to the "
        "creation, never again",
    )
    create_time: datetime


class DeliveryResponse(BaseModel):
    id: str
    event_id: str
    event_type: str
    state: Literal["pending", "delivered", "dead_letter"]
    attempts: int
    last_status_code: int = Field(description="The receiver's last HTTP status; 0 if none")
    last_error: str = Field(description="Why the last attempt failed, or why it was given up")
    next_attempt_time: datetime | None
    create_time: datetime
    update_time: datetime
