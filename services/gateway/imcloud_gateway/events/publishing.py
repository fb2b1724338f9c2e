"""Domain events of the gateway as messages on the tenant topic."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf.message import Message

from imcloud.gateway.v1 import events_pb2 as pb
from imcloud_core.convert import timestamp
from imcloud_core.events import Topic, new_envelope
from imcloud_core.unit_of_work import OutboxEntry
from imcloud_gateway.domain.events import TenantOffboarded, TenantOnboarded
from imcloud_gateway.domain.model import Tenant, TenantKind, Tier

SOURCE = "gateway"
KINDS = {TenantKind.ENTERPRISE: pb.TENANT_KIND_ENTERPRISE, TenantKind.OEM: pb.TENANT_KIND_OEM}
TIERS = {Tier.SHARED: pb.TENANT_TIER_SHARED, Tier.DEDICATED: pb.TENANT_TIER_DEDICATED}


def tenant_message(tenant: Tenant) -> pb.Tenant:
    return pb.Tenant(
        id=tenant.id,
        name=tenant.name,
        kind=KINDS[tenant.kind],
        tier=TIERS[tenant.tier],
        create_time=timestamp(tenant.create_time),
    )


def to_outbox_entry(event: Any) -> OutboxEntry:
    match event:
        case TenantOnboarded(tenant=tenant):
            event_type = "tenant.onboarded"
            payload: Message = pb.TenantOnboarded(tenant=tenant_message(tenant))
            occurred_at: datetime | None = tenant.create_time
        case TenantOffboarded(tenant=tenant):
            event_type = "tenant.offboarded"
            payload = pb.TenantOffboarded(tenant=tenant_message(tenant))
            occurred_at = tenant.offboard_time
        case _:
            raise TypeError(f"no message for domain event {type(event).__name__}")
    envelope = new_envelope(
        tenant_id=tenant.id,
        event_type=event_type,
        payload=payload,
        source=SOURCE,
        occurred_at=occurred_at,
    )
    return OutboxEntry(Topic.TENANT_EVENTS, tenant.id, envelope)
