"""Notification channels and their deliveries in SQL; every query of a caller's
channel filters by its tenant, and only the sender reads due deliveries across
tenants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from imcloud_core.store import TenantTable
from imcloud_servitization.domain.webhooks import Channel, ChannelKind, Delivery, DeliveryState
from imcloud_servitization.store.tables import notification_channels, notification_deliveries


def _channel(row: Row[Any]) -> Channel:
    v = dict(row._mapping)
    return Channel(**{**v, "kind": ChannelKind(v["kind"]), "event_types": list(v["event_types"])})


def _delivery(row: Row[Any]) -> Delivery:
    v = dict(row._mapping)
    return Delivery(**{**v, "state": DeliveryState(v["state"])})


class SqlChannelRepository:
    table = TenantTable(notification_channels)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, channel: Channel) -> None:
        self.table.insert(self._session, {**channel.__dict__, "kind": channel.kind.value})

    def get(self, *, tenant_id: str, channel_id: str) -> Channel | None:
        row = self.table.get(self._session, tenant_id, channel_id)
        return _channel(row) if row else None

    def delete(self, *, tenant_id: str, channel_id: str) -> bool:
        return self.table.delete(self._session, tenant_id, channel_id)

    def for_tenant(self, *, tenant_id: str) -> list[Channel]:
        rows = self._session.execute(self.table.select(tenant_id)).all()
        return [_channel(r) for r in rows]

    def list(self, *, tenant_id: str, page_size: int, page_token: str) -> tuple[list[Channel], str]:
        rows, token = self.table.page(
            self._session, tenant_id, page_size=page_size, page_token=page_token
        )
        return [_channel(r) for r in rows], token


class SqlDeliveryRepository:
    table = TenantTable(notification_deliveries)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, delivery: Delivery) -> bool:
        return self.table.insert_unless_taken(
            self._session,
            {**delivery.__dict__, "state": delivery.state.value},
            ["channel_id", "event_id"],
        )

    def get(self, *, tenant_id: str, delivery_id: str, for_update: bool = False) -> Delivery | None:
        query = self.table.select(tenant_id, notification_deliveries.c.id == delivery_id)
        row = self._session.execute(query.with_for_update() if for_update else query).first()
        return _delivery(row) if row else None

    def save(self, delivery: Delivery) -> None:
        self.table.update(
            self._session,
            delivery.tenant_id,
            delivery.id,
            {
                "state": delivery.state.value,
                "attempts": delivery.attempts,
                "last_status_code": delivery.last_status_code,
                "last_error": delivery.last_error,
                "next_attempt_time": delivery.next_attempt_time,
                "update_time": delivery.update_time,
            },
        )

    def due(
        self, *, now: datetime, limit: int, skip_channels: set[str] | frozenset[str]
    ) -> list[Delivery]:
        c = notification_deliveries.c
        conditions = [c.state == DeliveryState.PENDING.value, c.next_attempt_time <= now]
        if skip_channels:
            conditions.append(c.channel_id.not_in(sorted(skip_channels)))
        rows = self._session.execute(
            select(notification_deliveries)
            .where(*conditions)
            .order_by(c.next_attempt_time)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        return [_delivery(r) for r in rows]

    def give_up_pending(
        self, *, tenant_id: str, channel_id: str, reason: str, now: datetime
    ) -> int:
        c = notification_deliveries.c
        result = self._session.execute(
            notification_deliveries.update()
            .where(
                c.tenant_id == tenant_id,
                c.channel_id == channel_id,
                c.state == DeliveryState.PENDING.value,
            )
            .values(
                state=DeliveryState.DEAD_LETTER.value,
                last_error=reason,
                next_attempt_time=None,
                update_time=now,
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def list(
        self, *, tenant_id: str, channel_id: str, page_size: int, page_token: str
    ) -> tuple[list[Delivery], str]:
        rows, token = self.table.page(
            self._session,
            tenant_id,
            notification_deliveries.c.channel_id == channel_id,
            page_size=page_size,
            page_token=page_token,
        )
        return [_delivery(r) for r in rows], token
