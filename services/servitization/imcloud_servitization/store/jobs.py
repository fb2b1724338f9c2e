"""Fleet jobs and their executions in SQL; every query of a caller's job filters
by its tenant, and only the rollout reads across tenants."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, or_, select
from sqlalchemy.orm import Session

from imcloud_core.store import TenantTable, keyset_page
from imcloud_servitization.domain.jobs import (
    IN_FLIGHT,
    ExecutionState,
    FleetJob,
    JobCommand,
    JobDesiredChange,
    JobExecution,
    JobState,
    JobSummary,
    JobTarget,
    TargetKind,
)
from imcloud_servitization.domain.model import CommandState
from imcloud_servitization.store.tables import (
    fleet_jobs,
    job_executions,
    machine_desired_applied,
    remote_commands,
)

IN_FLIGHT_VALUES = [s.value for s in IN_FLIGHT]


def _job_values(job: FleetJob) -> dict[str, Any]:
    action = job.action
    command = action if isinstance(action, JobCommand) else JobCommand("", {}, action.timeout_s)
    return {
        "id": job.id,
        "tenant_id": job.tenant_id,
        "target_kind": job.target.kind.value,
        "target_id": job.target.id,
        "command_name": command.name,
        "command_parameters": command.parameters,
        "timeout_s": action.timeout_s,
        "desired_patch": action.patch if isinstance(action, JobDesiredChange) else None,
        "machines_per_minute": job.machines_per_minute,
        "failed_percent": job.failed_percent,
        "min_ended": job.min_ended,
        "state": job.state.value,
        "machine_count": job.machine_count,
        "detail": job.detail,
        "requested_by": job.requested_by,
        "through_grants": job.through_grants,
        "create_time": job.create_time,
        "update_time": job.update_time,
        "end_time": job.end_time,
    }


def _job(row: Row[Any], summary: JobSummary) -> FleetJob:
    v = row._mapping
    return FleetJob(
        id=v["id"],
        tenant_id=v["tenant_id"],
        target=JobTarget(TargetKind(v["target_kind"]), v["target_id"]),
        action=(
            JobCommand(v["command_name"], v["command_parameters"], v["timeout_s"])
            if v["desired_patch"] is None
            else JobDesiredChange(v["desired_patch"], v["timeout_s"])
        ),
        machines_per_minute=v["machines_per_minute"],
        failed_percent=v["failed_percent"],
        min_ended=v["min_ended"],
        state=JobState(v["state"]),
        machine_count=v["machine_count"],
        detail=v["detail"],
        requested_by=v["requested_by"],
        through_grants=v["through_grants"],
        create_time=v["create_time"],
        update_time=v["update_time"],
        end_time=v["end_time"],
        summary=summary,
    )


def _execution_values(execution: JobExecution) -> dict[str, Any]:
    return {**execution.__dict__, "state": execution.state.value}


def _execution(row: Row[Any]) -> JobExecution:
    values = {name: row._mapping[name] for name in job_executions.c.keys()}  # noqa: SIM118 - column names
    return JobExecution(**{**values, "state": ExecutionState(values["state"])})


class SqlJobRepository:
    table = TenantTable(fleet_jobs)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, job: FleetJob, executions: list[JobExecution]) -> None:
        self.table.insert(self._session, _job_values(job))
        self._session.execute(job_executions.insert(), [_execution_values(e) for e in executions])

    def get(self, *, tenant_id: str, job_id: str, for_update: bool = False) -> FleetJob | None:
        query = self.table.select(tenant_id, fleet_jobs.c.id == job_id)
        row = self._session.execute(query.with_for_update() if for_update else query).first()
        return _job(row, self._summaries(tenant_id, [job_id])[job_id]) if row else None

    def save(self, job: FleetJob) -> None:
        self.table.update(
            self._session,
            job.tenant_id,
            job.id,
            {
                "state": job.state.value,
                "detail": job.detail,
                "update_time": job.update_time,
                "end_time": job.end_time,
            },
        )

    def in_progress(self) -> list[tuple[str, str]]:
        c = fleet_jobs.c
        rows = self._session.execute(
            select(c.tenant_id, c.id)
            .where(c.state == JobState.IN_PROGRESS.value)
            .order_by(c.create_time, c.id)
        ).all()
        return [(r.tenant_id, r.id) for r in rows]

    def executions(
        self,
        *,
        tenant_id: str,
        job_id: str,
        states: list[ExecutionState],
        page_size: int,
        page_token: str,
    ) -> tuple[list[JobExecution], str]:
        conditions = self._of_job(tenant_id, job_id)
        if states:
            conditions.append(job_executions.c.state.in_([s.value for s in states]))
        rows, token = keyset_page(
            self._session,
            select(job_executions).where(*conditions),
            created=job_executions.c.position,
            key=job_executions.c.equipment_id,
            page_size=page_size,
            page_token=page_token,
        )
        return [_execution(r) for r in rows], token

    def queued(self, *, tenant_id: str, job_id: str, limit: int) -> list[JobExecution]:
        c = job_executions.c
        rows = self._session.execute(
            select(job_executions)
            .where(*self._of_job(tenant_id, job_id), c.state == ExecutionState.QUEUED.value)
            .order_by(c.position)
            .limit(limit)
        ).all()
        return [_execution(r) for r in rows]

    def in_flight(self, *, tenant_id: str, job_id: str) -> list[JobExecution]:
        c = job_executions.c
        rows = self._session.execute(
            select(job_executions)
            .where(*self._of_job(tenant_id, job_id), c.state.in_(IN_FLIGHT_VALUES))
            .order_by(c.position)
        ).all()
        return [_execution(r) for r in rows]

    def started_since(self, *, tenant_id: str, job_id: str, since: datetime) -> int:
        c = job_executions.c
        count = self._session.execute(
            select(func.count())
            .select_from(job_executions)
            .where(*self._of_job(tenant_id, job_id), c.start_time > since)
        ).scalar()
        return int(count or 0)

    def save_execution(self, execution: JobExecution) -> None:
        c = job_executions.c
        self._session.execute(
            job_executions.update()
            .where(
                *self._of_job(execution.tenant_id, execution.job_id),
                c.position == execution.position,
            )
            .values(
                state=execution.state.value,
                command_id=execution.command_id,
                detail=execution.detail,
                start_time=execution.start_time,
                update_time=execution.update_time,
                desired_version=execution.desired_version,
                expire_time=execution.expire_time,
                not_after=execution.not_after,
            )
        )

    def cancel_queued(self, *, tenant_id: str, job_id: str, detail: str, at: datetime) -> None:
        c = job_executions.c
        self._session.execute(
            job_executions.update()
            .where(*self._of_job(tenant_id, job_id), c.state == ExecutionState.QUEUED.value)
            .values(state=ExecutionState.CANCELLED.value, detail=detail, update_time=at)
        )

    def behind_commands(self, *, limit: int) -> list[tuple[JobExecution, CommandState, str]]:
        e, command = job_executions.c, remote_commands.c
        running = select(fleet_jobs.c.id).where(fleet_jobs.c.state == JobState.IN_PROGRESS.value)
        rows = self._session.execute(
            select(
                job_executions,
                command.state.label("command_state"),
                command.detail.label("command_detail"),
            )
            .join(
                remote_commands,
                and_(command.tenant_id == e.owner_tenant_id, command.id == e.command_id),
            )
            .where(
                or_(e.state.in_(IN_FLIGHT_VALUES), e.job_id.in_(running)),
                command.state != e.state,
            )
            .limit(limit)
        ).all()
        return [(_execution(r), CommandState(r.command_state), r.command_detail) for r in rows]

    def desired_applied(self, *, limit: int) -> list[tuple[JobExecution, str]]:
        e, applied = job_executions.c, machine_desired_applied.c
        rows = self._session.execute(
            select(job_executions, applied.detail.label("applied_detail"))
            .join(
                machine_desired_applied,
                and_(
                    applied.tenant_id == e.owner_tenant_id,
                    applied.equipment_id == e.equipment_id,
                ),
            )
            .where(
                e.state == ExecutionState.PENDING.value,
                e.desired_version.is_not(None),
                applied.applied_version >= e.desired_version,
            )
            .limit(limit)
        ).all()
        return [(_execution(r), r.applied_detail) for r in rows]

    def desired_overdue(self, *, now: datetime, limit: int) -> list[JobExecution]:
        e = job_executions.c
        rows = self._session.execute(
            select(job_executions)
            .where(
                e.state == ExecutionState.PENDING.value,
                e.desired_version.is_not(None),
                e.expire_time < now,
            )
            .limit(limit)
        ).all()
        return [_execution(r) for r in rows]

    def record_applied(
        self, *, tenant_id: str, equipment_id: str, version: int, detail: str, at: datetime
    ) -> None:
        c = machine_desired_applied.c
        mine = and_(c.tenant_id == tenant_id, c.equipment_id == equipment_id)
        known = self._session.execute(
            select(c.applied_version).where(mine).with_for_update()
        ).scalar()
        values = {"applied_version": version, "detail": detail, "update_time": at}
        if known is None:
            self._session.execute(
                machine_desired_applied.insert().values(
                    tenant_id=tenant_id, equipment_id=equipment_id, **values
                )
            )
        elif version > known:
            self._session.execute(machine_desired_applied.update().where(mine).values(**values))

    def cancel_granted(
        self,
        *,
        owner_tenant_id: str,
        equipment_id: str,
        maker_tenant_id: str,
        commands: bool,
        desired_changes: bool,
        detail: str,
        at: datetime,
    ) -> int:
        j, e = fleet_jobs.c, job_executions.c
        kinds = []
        if commands:
            kinds.append(j.desired_patch.is_(None))
        if desired_changes:
            kinds.append(j.desired_patch.is_not(None))
        if not kinds:
            return 0
        makers_jobs = select(j.id).where(
            j.tenant_id == maker_tenant_id, j.through_grants.is_(True), or_(*kinds)
        )
        result = self._session.execute(
            job_executions.update()
            .where(
                e.owner_tenant_id == owner_tenant_id,
                e.equipment_id == equipment_id,
                e.tenant_id == maker_tenant_id,
                e.state == ExecutionState.QUEUED.value,
                e.job_id.in_(makers_jobs),
            )
            .values(state=ExecutionState.CANCELLED.value, detail=detail, update_time=at)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def _of_job(self, tenant_id: str, job_id: str) -> list[ColumnElement[bool]]:
        c = job_executions.c
        return [c.tenant_id == tenant_id, c.job_id == job_id]

    def _summaries(self, tenant_id: str, job_ids: list[str]) -> dict[str, JobSummary]:
        c = job_executions.c
        rows = self._session.execute(
            select(c.job_id, c.state, func.count())
            .where(c.tenant_id == tenant_id, c.job_id.in_(job_ids))
            .group_by(c.job_id, c.state)
        ).all()
        counts: dict[str, dict[ExecutionState, int]] = defaultdict(dict)
        for job_id, state, count in rows:
            counts[job_id][ExecutionState(state)] = count
        return {job_id: JobSummary(counts[job_id]) for job_id in job_ids}

    def list(
        self, *, tenant_id: str, through_grants: bool, page_size: int, page_token: str
    ) -> tuple[list[FleetJob], str]:
        rows, token = self.table.page(
            self._session,
            tenant_id,
            fleet_jobs.c.through_grants == through_grants,
            page_size=page_size,
            page_token=page_token,
            newest_first=True,
        )
        summaries = self._summaries(tenant_id, [r.id for r in rows])
        return [_job(r, summaries[r.id]) for r in rows], token
