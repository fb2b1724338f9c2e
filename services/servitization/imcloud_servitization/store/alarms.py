"""Alarm rules, alarms and watches in SQL; every query filters by its tenant but
the sweep's, which finds the watches due across tenants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from imcloud_core.db import conflict_insert
from imcloud_core.store import TenantTable, keyset_page
from imcloud_servitization.domain.alarms import (
    OPEN_STATES,
    Alarm,
    AlarmFilter,
    AlarmRule,
    AlarmScope,
    AlarmSeverity,
    AlarmState,
    CommandFailed,
    Condition,
    EpisodeRaised,
    KpiMissed,
    NoData,
    RateOfChange,
    ScopeKind,
    Threshold,
    Watch,
    severity_at_least,
)
from imcloud_servitization.store.tables import alarm_rules, alarm_watches, alarms

CONDITION_KINDS: dict[str, type[Condition]] = {
    "threshold": Threshold,
    "rate_of_change": RateOfChange,
    "episode": EpisodeRaised,
    "command": CommandFailed,
    "no_data": NoData,
    "kpi": KpiMissed,
}
KIND_OF_CONDITION = {kind: name for name, kind in CONDITION_KINDS.items()}
OPEN_VALUES = [s.value for s in OPEN_STATES]
WATCH_STATE = ("judged_until_ms", "breach_since_ms", "last_value", "due_ms")


def _condition_value(condition: Condition) -> dict[str, Any]:
    return {"kind": KIND_OF_CONDITION[type(condition)], **asdict(condition)}


def _condition(value: dict[str, Any]) -> Condition:
    fields = dict(value)
    return CONDITION_KINDS[fields.pop("kind")](**fields)


def _rule(row: Row[Any]) -> AlarmRule:
    v = row._mapping
    return AlarmRule(
        id=v["id"],
        tenant_id=v["tenant_id"],
        name=v["name"],
        severity=AlarmSeverity(v["severity"]),
        scope=AlarmScope(ScopeKind(v["scope_kind"]), v["scope_id"]),
        condition=_condition(v["condition"]),
        create_time=v["create_time"],
    )


class SqlAlarmRuleRepository:
    table = TenantTable(alarm_rules)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, rule: AlarmRule) -> None:
        self.table.insert(
            self._session,
            {
                "id": rule.id,
                "tenant_id": rule.tenant_id,
                "name": rule.name,
                "severity": rule.severity.value,
                "scope_kind": rule.scope.kind.value,
                "scope_id": rule.scope.id,
                "condition": _condition_value(rule.condition),
                "create_time": rule.create_time,
            },
        )

    def get(self, *, tenant_id: str, rule_id: str) -> AlarmRule | None:
        row = self.table.get(self._session, tenant_id, rule_id)
        return _rule(row) if row else None

    def delete(self, *, tenant_id: str, rule_id: str) -> bool:
        return self.table.delete(self._session, tenant_id, rule_id)

    def version(self, *, tenant_id: str) -> tuple[int, datetime | None]:
        c = alarm_rules.c
        count, newest = self._session.execute(
            select(func.count(), func.max(c.create_time)).where(c.tenant_id == tenant_id)
        ).one()
        return int(count), newest

    def existing(self, *, tenant_id: str, rule_ids: Sequence[str]) -> set[str]:
        rows = self._session.execute(
            select(alarm_rules.c.id).where(
                alarm_rules.c.tenant_id == tenant_id, alarm_rules.c.id.in_(rule_ids)
            )
        ).all()
        return {row.id for row in rows}

    def of_tenant(self, *, tenant_id: str) -> list[AlarmRule]:
        rows = self._session.execute(
            self.table.select(tenant_id).order_by(alarm_rules.c.create_time, alarm_rules.c.id)
        ).all()
        return [_rule(r) for r in rows]

    def list(
        self, *, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[AlarmRule], str]:
        rows, token = self.table.page(
            self._session, tenant_id, page_size=page_size, page_token=page_token
        )
        return [_rule(r) for r in rows], token


def _alarm_values(alarm: Alarm) -> dict[str, Any]:
    return {
        **vars(alarm),
        "severity": alarm.severity.value,
        "state": alarm.state.value,
        "open_key": f"{alarm.rule_id}/{alarm.equipment_id}" if alarm.open else None,
    }


def _alarm(row: Row[Any]) -> Alarm:
    v = dict(row._mapping)
    del v["open_key"]
    return Alarm(**{**v, "severity": AlarmSeverity(v["severity"]), "state": AlarmState(v["state"])})


class SqlAlarmRepository:
    table = TenantTable(alarms)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, alarm: Alarm) -> None:
        self.table.insert(self._session, _alarm_values(alarm))

    def get(self, *, tenant_id: str, alarm_id: str, for_update: bool = False) -> Alarm | None:
        query = self.table.select(tenant_id, alarms.c.id == alarm_id)
        row = self._session.execute(query.with_for_update() if for_update else query).first()
        return _alarm(row) if row else None

    def save(self, alarm: Alarm) -> None:
        values = _alarm_values(alarm)
        del values["id"], values["tenant_id"]
        self.table.update(self._session, alarm.tenant_id, alarm.id, values)

    def open_on(
        self, *, tenant_id: str, equipment_id: str, rule_ids: Sequence[str]
    ) -> dict[str, Alarm]:
        # All of the machine's open alarms: fewer than its rules, and a query that
        # compiles once (an IN list of the rules would compile at every call).
        query = self.table.select(
            tenant_id, alarms.c.equipment_id == equipment_id, alarms.c.open_key.is_not(None)
        )
        found = [_alarm(r) for r in self._session.execute(query.with_for_update()).all()]
        wanted = set(rule_ids)
        return {alarm.rule_id: alarm for alarm in found if alarm.rule_id in wanted}

    def open_of_rule(self, *, tenant_id: str, rule_id: str) -> list[Alarm]:
        query = self.table.select(
            tenant_id, alarms.c.rule_id == rule_id, alarms.c.state.in_(OPEN_VALUES)
        )
        return [_alarm(r) for r in self._session.execute(query.with_for_update()).all()]

    def list(
        self, *, tenant_id: str, where: AlarmFilter, page_size: int, page_token: str
    ) -> tuple[list[Alarm], str]:
        c = alarms.c
        conditions = []
        if where.state is not None:
            conditions.append(c.state == where.state.value)
        if where.open_only:
            conditions.append(c.state.in_(OPEN_VALUES))
        if where.equipment_id:
            conditions.append(c.equipment_id == where.equipment_id)
        if where.rule_id:
            conditions.append(c.rule_id == where.rule_id)
        if where.min_severity is not None:
            conditions.append(
                c.severity.in_([s.value for s in severity_at_least(where.min_severity)])
            )
        rows, token = keyset_page(
            self._session,
            self.table.select(tenant_id, *conditions),
            created=c.raise_time,
            key=c.id,
            page_size=page_size,
            page_token=page_token,
            newest_first=True,
        )
        return [_alarm(r) for r in rows], token


class SqlAlarmWatchRepository:
    table = TenantTable(alarm_watches)

    def __init__(self, session: Session) -> None:
        self._session = session

    def of_machine(
        self, *, tenant_id: str, equipment_id: str, rule_ids: Sequence[str]
    ) -> dict[str, Watch]:
        c = alarm_watches.c
        # The machine's watches of every rule, as open_on does with its alarms.
        query = select(alarm_watches).where(
            c.tenant_id == tenant_id, c.equipment_id == equipment_id
        )
        rows = self._session.execute(query.with_for_update()).all()
        wanted = set(rule_ids)
        return {row.rule_id: Watch(**row._mapping) for row in rows if row.rule_id in wanted}

    def save(self, *watches: Watch) -> None:
        """Writes the watches, new or not, in one statement."""
        if not watches:
            return
        insert = conflict_insert(self._session.get_bind().engine)(alarm_watches)
        self._session.execute(
            insert.on_conflict_do_update(
                index_elements=["tenant_id", "rule_id", "equipment_id"],
                set_={name: insert.excluded[name] for name in WATCH_STATE},
            ),
            [vars(watch) for watch in watches],
        )

    def delete_of_rule(self, *, tenant_id: str, rule_id: str) -> None:
        c = alarm_watches.c
        self._session.execute(
            alarm_watches.delete().where(c.tenant_id == tenant_id, c.rule_id == rule_id)
        )

    def due(self, *, now_ms: int, limit: int) -> list[Watch]:
        # Across tenants: the sweep judges each watch under its own tenant's rule.
        c = alarm_watches.c
        query = select(alarm_watches).where(c.due_ms <= now_ms).order_by(c.due_ms).limit(limit)
        return [Watch(**row._mapping) for row in self._session.execute(query).all()]
