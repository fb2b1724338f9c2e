"""SQL implementations of the domain's ports; every query filters by tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.orm import Session

from imcloud_core.store import TenantTable
from imcloud_core.unit_of_work import SqlUnitOfWork
from imcloud_servitization.domain.model import (
    WAITING,
    CommandState,
    RemoteCommand,
)
from imcloud_servitization.store.alarms import (
    SqlAlarmRepository,
    SqlAlarmRuleRepository,
    SqlAlarmWatchRepository,
)
from imcloud_servitization.store.customization import (
    SqlFamilyRepository,
    SqlOrderRepository,
    SqlQuoteRepository,
)
from imcloud_servitization.store.jobs import SqlJobRepository
from imcloud_servitization.store.tables import remote_commands
from imcloud_servitization.store.tickets import SqlTicketRepository
from imcloud_servitization.store.webhooks import SqlChannelRepository, SqlDeliveryRepository


def _command(row: Row[Any]) -> RemoteCommand:
    values = row._asdict()
    return RemoteCommand(
        **{
            **values,
            "state": CommandState(values["state"]),
            "idempotency_key": values["idempotency_key"] or "",
        }
    )


class SqlCommandRepository:
    table = TenantTable(remote_commands)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, command: RemoteCommand) -> bool:
        values = {
            **command.__dict__,
            "state": command.state.value,
            "idempotency_key": command.idempotency_key or None,
        }
        return self.table.insert_unless_taken(
            self._session, values, ["tenant_id", "idempotency_key"]
        )

    def get(
        self, *, tenant_id: str, command_id: str, for_update: bool = False
    ) -> RemoteCommand | None:
        query = self.table.select(tenant_id, remote_commands.c.id == command_id)
        row = self._session.execute(query.with_for_update() if for_update else query).first()
        return _command(row) if row else None

    def with_idempotency_key(self, *, tenant_id: str, key: str) -> RemoteCommand | None:
        row = self._session.execute(
            self.table.select(tenant_id, remote_commands.c.idempotency_key == key)
        ).first()
        return _command(row) if row else None

    def save(self, command: RemoteCommand) -> None:
        self.table.update(
            self._session,
            command.tenant_id,
            command.id,
            {
                "state": command.state.value,
                "detail": command.detail,
                "update_time": command.update_time,
                "cancelled_by": command.cancelled_by,
                "attempts": command.attempts,
                "next_attempt_time": command.next_attempt_time,
                "late": command.late,
            },
        )

    def overdue(self, *, now: datetime) -> list[RemoteCommand]:
        c = remote_commands.c
        rows = self._session.execute(
            select(remote_commands)
            .where(c.state.in_([state.value for state in WAITING]), c.expire_time < now)
            .with_for_update(skip_locked=True)
        ).all()
        return [_command(r) for r in rows]

    def due_for_resend(self, *, now: datetime, limit: int) -> list[RemoteCommand]:
        c = remote_commands.c
        rows = self._session.execute(
            select(remote_commands)
            .where(
                c.state == CommandState.PENDING.value,
                c.next_attempt_time <= now,
                c.expire_time > now,
            )
            .order_by(c.next_attempt_time)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        return [_command(r) for r in rows]

    def list(
        self,
        *,
        tenant_id: str,
        equipment_id: str,
        states: list[CommandState],
        maker_tenant_id: str,
        job_id: str,
        page_size: int,
        page_token: str,
    ) -> tuple[list[RemoteCommand], str]:
        c = remote_commands.c
        conditions: list[ColumnElement[bool]] = []
        if equipment_id:
            conditions.append(c.equipment_id == equipment_id)
        if states:
            conditions.append(c.state.in_([s.value for s in states]))
        if maker_tenant_id:
            conditions.append(c.requested_by.endswith(f"@{maker_tenant_id}", autoescape=True))
        if job_id:
            conditions.append(c.job_id == job_id)
        rows, token = self.table.page(
            self._session,
            tenant_id,
            *conditions,
            page_size=page_size,
            page_token=page_token,
            newest_first=True,
        )
        return [_command(r) for r in rows], token


class ServitizationUnitOfWork(SqlUnitOfWork):
    tickets: SqlTicketRepository
    commands: SqlCommandRepository
    jobs: SqlJobRepository
    families: SqlFamilyRepository
    quotes: SqlQuoteRepository
    orders: SqlOrderRepository
    alarm_rules: SqlAlarmRuleRepository
    alarms: SqlAlarmRepository
    alarm_watches: SqlAlarmWatchRepository
    notification_channels: SqlChannelRepository
    notification_deliveries: SqlDeliveryRepository

    def __enter__(self) -> ServitizationUnitOfWork:
        super().__enter__()
        self.tickets = SqlTicketRepository(self.session)
        self.commands = SqlCommandRepository(self.session)
        self.jobs = SqlJobRepository(self.session)
        self.families = SqlFamilyRepository(self.session)
        self.quotes = SqlQuoteRepository(self.session)
        self.orders = SqlOrderRepository(self.session)
        self.alarm_rules = SqlAlarmRuleRepository(self.session)
        self.alarms = SqlAlarmRepository(self.session)
        self.alarm_watches = SqlAlarmWatchRepository(self.session)
        # Webhooks and e-mail
        self.notification_channels = SqlChannelRepository(self.session)
        self.notification_deliveries = SqlDeliveryRepository(self.session)
        return self
