"""Fleet jobs: one remote command, or one change of desired state, for many
machines, like AWS IoT Jobs.

A job has one execution per machine. A background rollout starts queued
executions at the job's rate, as commands or as desired-state changes; each
execution then follows its command to its end, or its machine until it reports
the new desired version applied (or the timeout per machine passes). The job
aborts when the failed share of its ended executions reaches its threshold (once
enough ended), completes when every execution ended, or is cancelled by a user.
A job that ends starts nothing more: its queued executions are cancelled, never
started, and the commands still waiting are cancelled, all in the transaction
that ends the job (a desired state already changed stays changed: the machine
applies it all the same).

The caller resolves which machines a job covers (the gateway knows lines,
models and grants) and vouches for each machine's owner: a job an equipment
maker creates through grants lives in the maker's tenant, and each of its
commands in the tenant of the machine's owner, as a command the maker sent
through a grant does. Servitization keeps no copy of the equipment.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from imcloud_core.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_servitization.domain import commands
from imcloud_servitization.domain.model import CommandState
from imcloud_servitization.domain.ports import DesiredStates, UnitOfWork

MAX_MACHINES = 10_000
MAX_MACHINES_PER_MINUTE = 10_000
# Executions whose commands moved on, followed per transaction.
FOLLOW_BATCH = 1000


class JobState(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    ABORTED = "aborted"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self is not JobState.IN_PROGRESS


class ExecutionState(StrEnum):
    """Once started, an execution's state is its command's (same names)."""

    QUEUED = "queued"
    PENDING = "pending"
    DELIVERED = "delivered"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# Started, and its command still waits for the machine.
IN_FLIGHT = frozenset({ExecutionState.PENDING, ExecutionState.DELIVERED})
UNFINISHED = IN_FLIGHT | {ExecutionState.QUEUED}
FAILURES = frozenset({ExecutionState.FAILED, ExecutionState.REJECTED, ExecutionState.EXPIRED})


class TargetKind(StrEnum):
    EQUIPMENT = "equipment"
    EQUIPMENT_MODEL = "equipment_model"
    LINE = "line"
    PLANT = "plant"
    GRANTED_MACHINES = "granted_machines"


@dataclass(frozen=True)
class JobTarget:
    """Which machines, as the user named them; ``id`` names the model, line or
    plant (empty for a list of machines or a maker's granted machines)."""

    kind: TargetKind
    id: str = ""


@dataclass(frozen=True)
class JobMachine:
    equipment_id: str
    owner_tenant_id: str
    # Through a grant that expires: never started after then.
    grant_expire_time: datetime | None = None


@dataclass(frozen=True)
class JobCommand:
    name: str
    parameters: dict[str, Any]
    # Per machine: how long its command may wait for delivery and answer.
    timeout_s: int


@dataclass(frozen=True)
class JobDesiredChange:
    # A JSON merge patch of the machine's desired properties.
    patch: dict[str, Any]
    # Per machine: how long it may take to report the new version applied.
    timeout_s: int


JobAction = JobCommand | JobDesiredChange


@dataclass(frozen=True)
class JobSummary:
    """Machines per execution state; the counts add up to the job's machines."""

    counts: Mapping[ExecutionState, int] = field(default_factory=dict)

    def of(self, state: ExecutionState) -> int:
        return self.counts.get(state, 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def failures(self) -> int:
        return sum(self.of(s) for s in FAILURES)

    @property
    def judged(self) -> int:
        """Ended executions that count towards the abort criteria: cancelled ones
        neither succeeded nor failed."""
        return self.of(ExecutionState.SUCCEEDED) + self.failures

    @property
    def finished(self) -> bool:
        return not any(self.of(s) for s in UNFINISHED)


@dataclass(frozen=True)
class FleetJob:
    id: str
    tenant_id: str
    target: JobTarget
    action: JobAction
    machines_per_minute: int
    failed_percent: int
    min_ended: int
    state: JobState
    machine_count: int
    detail: str
    requested_by: str
    through_grants: bool
    create_time: datetime
    update_time: datetime
    end_time: datetime | None = None
    # Filled in when read; as of the last rollout step.
    summary: JobSummary = field(default_factory=JobSummary)


@dataclass(frozen=True)
class JobExecution:
    tenant_id: str
    job_id: str
    # The machine's turn in the rollout, from 0.
    position: int
    equipment_id: str
    owner_tenant_id: str
    state: ExecutionState
    command_id: str
    detail: str
    start_time: datetime | None
    update_time: datetime
    # A desired-state job's: the machine's desired version the change made, and
    # when the machine's time to report it applied is up.
    desired_version: int | None = None
    expire_time: datetime | None = None
    # Through a grant that expires: never started after then.
    not_after: datetime | None = None


@dataclass(frozen=True)
class FleetJobCreated:
    job: FleetJob


@dataclass(frozen=True)
class FleetJobEnded:
    job: FleetJob


def create_job(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    target: JobTarget,
    machines: list[JobMachine],
    action: JobAction,
    machines_per_minute: int,
    failed_percent: int,
    min_ended: int,
    through_grants: bool,
    requested_by: str,
) -> FleetJob:
    _check(
        machines=machines,
        action=action,
        machines_per_minute=machines_per_minute,
        failed_percent=failed_percent,
        min_ended=min_ended,
    )
    now = utcnow()
    job = FleetJob(
        id=new_id(),
        tenant_id=tenant_id,
        target=target,
        action=replace(action, timeout_s=action.timeout_s or commands.DEFAULT_TIMEOUT_S),
        machines_per_minute=machines_per_minute,
        failed_percent=failed_percent,
        min_ended=min_ended,
        state=JobState.IN_PROGRESS,
        machine_count=len(machines),
        detail="",
        requested_by=requested_by,
        through_grants=through_grants,
        create_time=now,
        update_time=now,
        summary=JobSummary({ExecutionState.QUEUED: len(machines)}),
    )
    executions = [
        JobExecution(
            tenant_id=tenant_id,
            job_id=job.id,
            position=position,
            equipment_id=machine.equipment_id,
            owner_tenant_id=machine.owner_tenant_id,
            state=ExecutionState.QUEUED,
            command_id="",
            detail="",
            start_time=None,
            update_time=now,
            not_after=machine.grant_expire_time,
        )
        for position, machine in enumerate(machines)
    ]
    with uow:
        uow.jobs.add(job, executions)
        uow.record(FleetJobCreated(job))
    return job


def get_job(uow: UnitOfWork, *, tenant_id: str, job_id: str, through_grants: bool) -> FleetJob:
    with uow:
        job = uow.jobs.get(tenant_id=tenant_id, job_id=job_id)
    return _visible(job, job_id=job_id, through_grants=through_grants)


def list_jobs(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    through_grants: bool,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[FleetJob], str]:
    size = page_size(requested_page_size)
    with uow:
        return uow.jobs.list(
            tenant_id=tenant_id,
            through_grants=through_grants,
            page_size=size,
            page_token=page_token,
        )


def list_executions(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    job_id: str,
    through_grants: bool,
    states: list[ExecutionState],
    requested_page_size: int,
    page_token: str,
) -> tuple[list[JobExecution], str]:
    size = page_size(requested_page_size)
    with uow:
        _visible(
            uow.jobs.get(tenant_id=tenant_id, job_id=job_id),
            job_id=job_id,
            through_grants=through_grants,
        )
        return uow.jobs.executions(
            tenant_id=tenant_id,
            job_id=job_id,
            states=states,
            page_size=size,
            page_token=page_token,
        )


def cancel_job(
    uow: UnitOfWork, *, tenant_id: str, job_id: str, through_grants: bool, cancelled_by: str
) -> FleetJob:
    """Cancelling a cancelled job again changes nothing; an ended one cannot be."""
    with uow:
        job = _visible(
            uow.jobs.get(tenant_id=tenant_id, job_id=job_id, for_update=True),
            job_id=job_id,
            through_grants=through_grants,
        )
        if job.state is JobState.CANCELLED:
            return job
        if job.state.ended:
            raise FailedPrecondition(f"the job already ended {job.state.value}")
        return _end(uow, job, JobState.CANCELLED, f"cancelled by {cancelled_by}", utcnow())


def _visible(job: FleetJob | None, *, job_id: str, through_grants: bool) -> FleetJob:
    """The job, if the caller may see it: a maker's job only through the grant
    routes, an enterprise's only through its own."""
    if job is None or job.through_grants != through_grants:
        raise NotFound(f"job {job_id!r} not found")
    return job


def in_progress(uow: UnitOfWork) -> list[tuple[str, str]]:
    """(tenant id, job id) of every job the rollout has to step."""
    with uow:
        return uow.jobs.in_progress()


def abort_reason(job: FleetJob, summary: JobSummary) -> str:
    """Why the job must abort now; empty while it may go on."""
    judged = summary.judged
    if judged == 0 or judged < job.min_ended:
        return ""
    if 100 * summary.failures < job.failed_percent * judged:
        return ""
    return (
        f"{summary.failures} of {judged} ended executions failed, were rejected or expired "
        f"(abort at {job.failed_percent}% after at least {job.min_ended})"
    )


def allowance(job: FleetJob, *, started_last_minute: int, started_last_second: int) -> int:
    """How many machines the job may start now: at most its rate in any minute,
    spread over the minute one second's share at a time."""
    per_second = math.ceil(job.machines_per_minute / 60)
    return max(
        0,
        min(job.machines_per_minute - started_last_minute, per_second - started_last_second),
    )


def follow_machines(unit_of_work: Callable[[], UnitOfWork], *, now: datetime) -> None:
    """Brings every started execution up to its command's state, or ends it when
    its machine applied the desired version (or did not in time)."""
    while True:
        with unit_of_work() as uow:
            behind = uow.jobs.behind_commands(limit=FOLLOW_BATCH)
            for execution, state, detail in behind:
                uow.jobs.save_execution(_following(execution, state, detail, now))
            applied = uow.jobs.desired_applied(limit=FOLLOW_BATCH)
            for execution, detail in applied:
                uow.jobs.save_execution(_applied(execution, detail, now))
            overdue = uow.jobs.desired_overdue(now=now, limit=FOLLOW_BATCH)
            for execution in overdue:
                uow.jobs.save_execution(
                    replace(
                        execution,
                        state=ExecutionState.EXPIRED,
                        detail="the machine did not report the desired state applied in time",
                        update_time=now,
                    )
                )
        if max(len(behind), len(applied), len(overdue)) < FOLLOW_BATCH:
            return


def record_desired_applied(
    uow: UnitOfWork, *, tenant_id: str, equipment_id: str, version: int, detail: str
) -> None:
    """What a machine reported applied; an older report than the newest changes nothing."""
    with uow:
        uow.jobs.record_applied(
            tenant_id=tenant_id,
            equipment_id=equipment_id,
            version=version,
            detail=detail,
            at=utcnow(),
        )


def _applied(execution: JobExecution, detail: str, now: datetime) -> JobExecution:
    if detail:
        return replace(
            execution,
            state=ExecutionState.FAILED,
            detail=f"the machine could not apply all of it: {detail}",
            update_time=now,
        )
    return replace(execution, state=ExecutionState.SUCCEEDED, detail="applied", update_time=now)


def _following(
    execution: JobExecution, state: CommandState, detail: str, now: datetime
) -> JobExecution:
    return replace(execution, state=ExecutionState(state.value), detail=detail, update_time=now)


def step(
    uow: UnitOfWork,
    desired_states: DesiredStates,
    *,
    tenant_id: str,
    job_id: str,
    now: datetime,
) -> tuple[int, FleetJob | None]:
    """One rollout step of a job: it aborts, completes, or starts the machines its
    rate allows now. Returns the machines started, and the job if it ended."""
    with uow:
        job = uow.jobs.get(tenant_id=tenant_id, job_id=job_id, for_update=True)
        if job is None or job.state.ended:
            return 0, None
        reason = abort_reason(job, job.summary)
        if reason:
            return 0, _end(uow, job, JobState.ABORTED, reason, now)
        if job.summary.finished:
            return 0, _end(uow, job, JobState.COMPLETED, "", now)
        count = allowance(
            job,
            started_last_minute=uow.jobs.started_since(
                tenant_id=tenant_id, job_id=job_id, since=now - timedelta(minutes=1)
            ),
            started_last_second=uow.jobs.started_since(
                tenant_id=tenant_id, job_id=job_id, since=now - timedelta(seconds=1)
            ),
        )
        queued = uow.jobs.queued(tenant_id=tenant_id, job_id=job_id, limit=count) if count else []
        started_count = 0
        for execution in queued:
            if execution.not_after is not None and now >= execution.not_after:
                uow.jobs.save_execution(_grant_ended(execution, now))
                continue
            started_count += 1
            if isinstance(job.action, JobDesiredChange):
                started = _change_desired(desired_states, job, job.action, execution, now)
            else:
                started = _send(uow, job, job.action, execution, now)
            uow.jobs.save_execution(replace(started, start_time=now))
        return started_count, None


def stop_granted_executions(
    uow: UnitOfWork,
    *,
    owner_tenant_id: str,
    equipment_id: str,
    maker_tenant_id: str,
    commands: bool,
    desired_changes: bool,
) -> int:
    """A maker's grant on the owner's machine ended: the maker's jobs of those
    kinds never start the machine. Returns the executions stopped."""
    with uow:
        return uow.jobs.cancel_granted(
            owner_tenant_id=owner_tenant_id,
            equipment_id=equipment_id,
            maker_tenant_id=maker_tenant_id,
            commands=commands,
            desired_changes=desired_changes,
            detail=GRANT_ENDED,
            at=utcnow(),
        )


GRANT_ENDED = "not started: the grant on this machine ended"


def _grant_ended(execution: JobExecution, now: datetime) -> JobExecution:
    return replace(execution, state=ExecutionState.CANCELLED, detail=GRANT_ENDED, update_time=now)


def _send(
    uow: UnitOfWork, job: FleetJob, command: JobCommand, execution: JobExecution, now: datetime
) -> JobExecution:
    # In this transaction: the command exists if and only if its execution says
    # it started, however often the service restarts.
    sent = commands.send_command(
        uow,
        tenant_id=execution.owner_tenant_id,
        equipment_id=execution.equipment_id,
        name=command.name,
        parameters=command.parameters,
        timeout_s=command.timeout_s,
        requested_by=job.requested_by,
        job_id=job.id,
    ).command
    return replace(_following(execution, sent.state, sent.detail, now), command_id=sent.id)


def _change_desired(
    desired_states: DesiredStates,
    job: FleetJob,
    change: JobDesiredChange,
    execution: JobExecution,
    now: datetime,
) -> JobExecution:
    """Patches the machine's desired state. Done again after a crash before this
    transaction commits, the same patch changes nothing and answers the same version."""
    try:
        version = desired_states.change_desired(
            tenant_id=execution.owner_tenant_id,
            equipment_id=execution.equipment_id,
            patch=change.patch,
            actor=job.requested_by,
        )
    except (NotFound, InvalidArgument, FailedPrecondition) as refused:
        return replace(
            execution,
            state=ExecutionState.FAILED,
            detail=f"the desired state was refused for this machine: {refused}",
            update_time=now,
        )
    return replace(
        execution,
        state=ExecutionState.PENDING,
        detail="",
        desired_version=version,
        expire_time=now + timedelta(seconds=change.timeout_s),
        update_time=now,
    )


def _end(uow: UnitOfWork, job: FleetJob, state: JobState, detail: str, now: datetime) -> FleetJob:
    """Ends the job within ``uow``: its queued machines are never started and the
    commands still waiting are cancelled."""
    uow.jobs.cancel_queued(
        tenant_id=job.tenant_id,
        job_id=job.id,
        detail=f"not started: the job was {state.value} first",
        at=now,
    )
    for execution in uow.jobs.in_flight(tenant_id=job.tenant_id, job_id=job.id):
        if not execution.command_id:
            # A desired state already changed: the machine applies it all the same.
            continue
        try:
            command, _ = commands.cancel_command(
                uow,
                tenant_id=execution.owner_tenant_id,
                command_id=execution.command_id,
                cancelled_by=f"job:{job.id}",
            )
        except FailedPrecondition:
            # The machine answered meanwhile; the execution follows its command.
            continue
        uow.jobs.save_execution(_following(execution, command.state, command.detail, now))
    uow.jobs.save(replace(job, state=state, detail=detail, update_time=now, end_time=now))
    ended = uow.jobs.get(tenant_id=job.tenant_id, job_id=job.id)
    assert ended is not None  # locked in this transaction
    uow.record(FleetJobEnded(ended))
    return ended


def _check(
    *,
    machines: list[JobMachine],
    action: JobAction,
    machines_per_minute: int,
    failed_percent: int,
    min_ended: int,
) -> None:
    violations = []
    if not 1 <= len(machines) <= MAX_MACHINES:
        violations.append(FieldViolation("machines", f"must name 1..{MAX_MACHINES} machines"))
    twice = sorted(
        equipment_id
        for equipment_id, times in Counter(m.equipment_id for m in machines).items()
        if times > 1
    )
    if twice:
        violations.append(FieldViolation("machines", f"named more than once: {', '.join(twice)}"))
    if any(not m.equipment_id or not m.owner_tenant_id for m in machines):
        violations.append(FieldViolation("machines", "every machine needs its id and owner"))
    violations += _action_violations(action)
    if not 1 <= machines_per_minute <= MAX_MACHINES_PER_MINUTE:
        violations.append(
            FieldViolation("rollout.machines_per_minute", f"must be 1..{MAX_MACHINES_PER_MINUTE}")
        )
    if not 1 <= failed_percent <= 100:
        violations.append(FieldViolation("abort_criteria.failed_percent", "must be 1..100"))
    if not 0 <= min_ended <= MAX_MACHINES:
        violations.append(FieldViolation("abort_criteria.min_ended", f"must be 0..{MAX_MACHINES}"))
    if violations:
        raise InvalidArgument("the job is not valid", violations=tuple(violations))


def _action_violations(action: JobAction) -> list[FieldViolation]:
    if isinstance(action, JobDesiredChange):
        violations = (
            []
            if action.patch
            else [FieldViolation("desired_change.desired_json", "must change something")]
        )
        return violations + commands.request_violations(
            name=None,
            document=action.patch,
            document_field="desired_json",
            timeout_s=action.timeout_s,
            prefix="desired_change.",
        )
    return commands.request_violations(
        name=action.name,
        document=action.parameters,
        document_field="parameters",
        timeout_s=action.timeout_s,
        prefix="command.",
    )
