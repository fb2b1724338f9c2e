"""Plant schedules as JSON documents, and the scheduler's pending requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from imcloud_core.store import TenantTable
from imcloud_production.domain.scheduling.model import Status
from imcloud_production.domain.scheduling.plan import (
    Eta,
    MovedOperation,
    PlannedOperation,
    PlantSchedule,
    Trigger,
    TriggerKind,
)
from imcloud_production.store.tables import schedule_requests, schedules


class SqlSchedules:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._table = TenantTable(schedules)

    def latest(self, *, tenant_id: str, plant_id: str) -> PlantSchedule | None:
        row = self._session.execute(
            self._table.select(tenant_id, schedules.c.plant_id == plant_id)
        ).first()
        return _schedule(tenant_id, row.body) if row else None

    def put(self, schedule: PlantSchedule) -> bool:
        values = {
            "revision": schedule.revision,
            "has_work": bool(schedule.operations),
            "compute_time": schedule.compute_time,
            "body": _schedule_values(schedule),
        }
        c = schedules.c
        replaced = self._session.execute(
            update(schedules)
            .where(
                c.tenant_id == schedule.tenant_id,
                c.plant_id == schedule.plant_id,
                c.revision < schedule.revision,
            )
            .values(**values)
        )
        if replaced.rowcount:  # type: ignore[attr-defined]
            return True
        if schedule.revision != 1:
            return False
        try:
            with self._session.begin_nested():
                self._table.insert(
                    self._session,
                    {"tenant_id": schedule.tenant_id, "plant_id": schedule.plant_id, **values},
                )
        except IntegrityError:
            return False
        return True

    def with_work(self) -> list[tuple[str, str]]:
        rows = self._session.execute(
            select(schedules.c.tenant_id, schedules.c.plant_id).where(schedules.c.has_work)
        ).all()
        return [(row.tenant_id, row.plant_id) for row in rows]


class SqlScheduleRequests:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._table = TenantTable(schedule_requests)

    def add(self, *, tenant_id: str, plant_id: str, trigger: Trigger) -> None:
        self._table.insert(
            self._session,
            {
                "tenant_id": tenant_id,
                "plant_id": plant_id,
                "kind": str(trigger.kind),
                "subject_id": trigger.subject_id,
                "description": trigger.description,
                "occur_time": trigger.occur_time,
            },
        )

    def pending(self) -> list[tuple[str, str]]:
        c = schedule_requests.c
        first = func.min(c.id)
        rows = self._session.execute(
            select(c.tenant_id, c.plant_id).group_by(c.tenant_id, c.plant_id).order_by(first)
        ).all()
        return [(row.tenant_id, row.plant_id) for row in rows]

    def of(self, *, tenant_id: str, plant_id: str) -> list[tuple[int, Trigger]]:
        c = schedule_requests.c
        rows = self._session.execute(
            self._table.select(tenant_id, c.plant_id == plant_id).order_by(c.id)
        ).all()
        return [
            (
                row.id,
                Trigger(TriggerKind(row.kind), row.subject_id, row.description, row.occur_time),
            )
            for row in rows
        ]

    def remove(self, *, tenant_id: str, plant_id: str, up_to: int) -> None:
        c = schedule_requests.c
        self._session.execute(
            delete(schedule_requests).where(
                c.tenant_id == tenant_id, c.plant_id == plant_id, c.id <= up_to
            )
        )


# -- the document --------------------------------------------------------------------


def _schedule_values(schedule: PlantSchedule) -> dict[str, Any]:
    return {
        "plant_id": schedule.plant_id,
        "revision": schedule.revision,
        "status": schedule.status.value,
        "method": schedule.method,
        "compute_time": _text(schedule.compute_time),
        "solve_time_s": schedule.solve_time_s,
        "triggers": [_trigger_values(trigger) for trigger in schedule.triggers],
        "operations": [_operation_values(operation) for operation in schedule.operations],
        "etas": [_eta_values(eta) for eta in schedule.etas.values()],
        "unscheduled": dict(schedule.unscheduled),
        "down_stations": {key: _text(since) for key, since in schedule.down_stations.items()},
        "reason": schedule.reason,
        "weighted_tardiness_s": schedule.weighted_tardiness_s,
    }


def _schedule(tenant_id: str, values: dict[str, Any]) -> PlantSchedule:
    etas = [_eta(item) for item in values["etas"]]
    return PlantSchedule(
        tenant_id=tenant_id,
        plant_id=values["plant_id"],
        revision=values["revision"],
        status=Status(values["status"]),
        method=values["method"],
        compute_time=_moment(values["compute_time"]),
        solve_time_s=values["solve_time_s"],
        triggers=tuple(_trigger(item) for item in values["triggers"]),
        operations=tuple(_operation(item) for item in values["operations"]),
        etas={eta.work_order_id: eta for eta in etas},
        unscheduled=values["unscheduled"],
        down_stations={key: _moment(since) for key, since in values["down_stations"].items()},
        reason=values["reason"],
        weighted_tardiness_s=values["weighted_tardiness_s"],
    )


def _trigger_values(trigger: Trigger) -> dict[str, Any]:
    return {
        "kind": trigger.kind.value,
        "subject_id": trigger.subject_id,
        "description": trigger.description,
        "occur_time": _text(trigger.occur_time),
    }


def _trigger(values: dict[str, Any]) -> Trigger:
    return Trigger(
        TriggerKind(values["kind"]),
        values["subject_id"],
        values["description"],
        _moment(values["occur_time"]),
    )


_OPERATION_TIMES = ("setup_start", "start", "end")


def _operation_values(operation: PlannedOperation) -> dict[str, Any]:
    return {
        "work_order_id": operation.work_order_id,
        "sequence": operation.sequence,
        "name": operation.name,
        "station_id": operation.station_id,
        "line_id": operation.line_id,
        **{field: _text(getattr(operation, field)) for field in _OPERATION_TIMES},
        "frozen": operation.frozen,
        "started": operation.started,
    }


def _operation(values: dict[str, Any]) -> PlannedOperation:
    times = {field: _moment(values[field]) for field in _OPERATION_TIMES}
    return PlannedOperation(
        work_order_id=values["work_order_id"],
        sequence=values["sequence"],
        name=values["name"],
        station_id=values["station_id"],
        line_id=values["line_id"],
        frozen=values["frozen"],
        started=values["started"],
        **times,
    )


def _eta_values(eta: Eta) -> dict[str, Any]:
    return {
        "work_order_id": eta.work_order_id,
        "due_time": _text(eta.due_time),
        "end_time": _text(eta.end_time),
        "lateness_s": eta.lateness_s,
        "explanation": eta.explanation,
        "revision": eta.revision,
        "previous_end_time": _text(eta.previous_end_time) if eta.previous_end_time else None,
        "triggers": [_trigger_values(trigger) for trigger in eta.triggers],
        "moved": [
            {
                "sequence": item.sequence,
                "previous_station_id": item.previous_station_id,
                "previous_start": _text(item.previous_start),
                "station_id": item.station_id,
                "start": _text(item.start),
            }
            for item in eta.moved
        ],
    }


def _eta(values: dict[str, Any]) -> Eta:
    previous = values["previous_end_time"]
    return Eta(
        work_order_id=values["work_order_id"],
        due_time=_moment(values["due_time"]),
        end_time=_moment(values["end_time"]),
        lateness_s=values["lateness_s"],
        explanation=values["explanation"],
        revision=values["revision"],
        previous_end_time=_moment(previous) if previous else None,
        triggers=tuple(_trigger(item) for item in values["triggers"]),
        moved=tuple(
            MovedOperation(
                sequence=item["sequence"],
                previous_station_id=item["previous_station_id"],
                previous_start=_moment(item["previous_start"]),
                station_id=item["station_id"],
                start=_moment(item["start"]),
            )
            for item in values["moved"]
        ),
    )


def _text(moment: datetime) -> str:
    return moment.isoformat()


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)
