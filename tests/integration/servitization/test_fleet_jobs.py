"""Fleet jobs on both databases: the rollout starts machines at the job's rate,
each execution follows its command, and a job aborts, completes or is cancelled
with a summary that adds up. Time is the rollout's argument, so each step is
exactly reproducible; the machines answer through the command ledger as the
device link would report them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from imcloud.common.v1.events_pb2 import EventEnvelope
from imcloud.servitization.v1 import jobs_pb2
from imcloud_core.db import Database
from imcloud_core.errors import FailedPrecondition, NotFound
from imcloud_core.events import Topic, unpack
from imcloud_servitization.domain import commands, jobs
from imcloud_servitization.domain.jobs import ExecutionState, FleetJob, JobState
from imcloud_servitization.domain.model import CommandState
from imcloud_servitization.domain.ports import UnitOfWork
from imcloud_servitization.events.rollout import roll_out_jobs
from imcloud_servitization.module import unit_of_work
from imcloud_servitization.store.tables import outbox
from tests.support.databases import migrated_database

TENANT = "tenant-1"
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def db(empty_database_url: str) -> Iterator[Database]:
    with migrated_database(empty_database_url, "imcloud_servitization") as database:
        yield database


@pytest.fixture
def uow(db: Database) -> Callable[[], UnitOfWork]:
    return unit_of_work(db)


class Twins:
    """The products service's desired states, as the rollout changes them."""

    def __init__(self) -> None:
        self.versions: dict[tuple[str, str], int] = {}
        self.patches: list[tuple[str, str, dict[str, Any], str]] = []

    def change_desired(
        self, *, tenant_id: str, equipment_id: str, patch: dict[str, Any], actor: str
    ) -> int:
        if equipment_id.endswith("-gone"):
            raise NotFound(f"equipment {equipment_id!r} not found")
        self.patches.append((tenant_id, equipment_id, patch, actor))
        key = (tenant_id, equipment_id)
        self.versions[key] = self.versions.get(key, 0) + 1
        return self.versions[key]


TWINS = Twins()


def roll_out(uow: Callable[[], UnitOfWork], now: datetime, twins: Twins = TWINS) -> None:
    roll_out_jobs(uow, twins, now)


def machines(count: int, owner: str = TENANT) -> list[jobs.JobMachine]:
    return [jobs.JobMachine(f"machine-{number:02d}", owner) for number in range(count)]


def new_job(
    uow: Callable[[], UnitOfWork],
    fleet: list[jobs.JobMachine],
    *,
    per_minute: int,
    failed_percent: int = 100,
    min_ended: int = 0,
    tenant_id: str = TENANT,
    through_grants: bool = False,
    action: jobs.JobAction | None = None,
) -> FleetJob:
    return jobs.create_job(
        uow(),
        tenant_id=tenant_id,
        target=jobs.JobTarget(jobs.TargetKind.EQUIPMENT),
        machines=fleet,
        action=action or jobs.JobCommand("set_speed", {"rpm": 8000}, 60),
        machines_per_minute=per_minute,
        failed_percent=failed_percent,
        min_ended=min_ended,
        through_grants=through_grants,
        requested_by="key:operator",
    )


def executions(uow: Callable[[], UnitOfWork], job: FleetJob) -> list[jobs.JobExecution]:
    found, token = jobs.list_executions(
        uow(),
        tenant_id=job.tenant_id,
        job_id=job.id,
        through_grants=job.through_grants,
        states=[],
        requested_page_size=500,
        page_token="",
    )
    assert token == ""
    return found


def answer_all(
    uow: Callable[[], UnitOfWork], job: FleetJob, outcome: Callable[[str], CommandState]
) -> None:
    """Every machine with a waiting command of the job answers it."""
    for execution in executions(uow, job):
        if execution.state is ExecutionState.PENDING:
            commands.progress(
                uow(),
                tenant_id=execution.owner_tenant_id,
                equipment_id=execution.equipment_id,
                command_id=execution.command_id,
                to=outcome(execution.equipment_id),
                detail="answered",
            )


def current(uow: Callable[[], UnitOfWork], job: FleetJob) -> FleetJob:
    return jobs.get_job(
        uow(), tenant_id=job.tenant_id, job_id=job.id, through_grants=job.through_grants
    )


def counts(job: FleetJob) -> dict[str, int]:
    return {state.value: n for state, n in job.summary.counts.items() if n}


def commands_of(uow: Callable[[], UnitOfWork], job: FleetJob, tenant_id: str = TENANT) -> set[str]:
    found, _ = commands.list_commands(
        uow(),
        tenant_id=tenant_id,
        equipment_id="",
        states=[],
        job_id=job.id,
        requested_page_size=500,
        page_token="",
    )
    return {c.equipment_id for c in found}


def every_fifth_rejects(equipment_id: str) -> CommandState:
    number = int(equipment_id.rsplit("-", 1)[1])
    return CommandState.REJECTED if number % 5 == 4 else CommandState.SUCCEEDED


def test_a_job_aborts_at_its_threshold_and_its_queued_machines_never_get_the_command(
    uow: Callable[[], UnitOfWork],
) -> None:
    job = new_job(uow, machines(50), per_minute=600, failed_percent=15, min_ended=10)
    roll_out(uow, START)
    assert counts(current(uow, job)) == {"pending": 10, "queued": 40}
    answer_all(uow, job, every_fifth_rejects)

    roll_out(uow, START + timedelta(seconds=1))

    aborted = current(uow, job)
    assert aborted.state is JobState.ABORTED
    assert aborted.detail.startswith("2 of 10 ended executions failed, were rejected or expired")
    assert counts(aborted) == {"succeeded": 8, "rejected": 2, "cancelled": 40}
    assert aborted.summary.total == aborted.machine_count == 50
    never_started = {
        e.equipment_id for e in executions(uow, job) if e.state is ExecutionState.CANCELLED
    }
    assert all(not e.command_id for e in executions(uow, job) if e.equipment_id in never_started)
    assert commands_of(uow, job) == {f"machine-{n:02d}" for n in range(10)}
    roll_out(uow, START + timedelta(minutes=5))
    assert commands_of(uow, job) == {f"machine-{n:02d}" for n in range(10)}


def test_an_abort_cancels_the_commands_still_waiting(uow: Callable[[], UnitOfWork]) -> None:
    job = new_job(uow, machines(6), per_minute=180, failed_percent=50, min_ended=2)
    roll_out(uow, START)
    first_two = executions(uow, job)[:2]
    for execution in first_two:
        commands.progress(
            uow(),
            tenant_id=TENANT,
            equipment_id=execution.equipment_id,
            command_id=execution.command_id,
            to=CommandState.FAILED,
            detail="spindle jammed",
        )
    roll_out(uow, START + timedelta(seconds=1))
    roll_out(uow, START + timedelta(seconds=2))

    aborted = current(uow, job)
    assert aborted.state is JobState.ABORTED
    assert counts(aborted) == {"failed": 2, "cancelled": 4}
    waiting = executions(uow, job)[2]
    assert waiting.command_id, "the third machine was started before the abort"
    command = commands.get_command(uow(), tenant_id=TENANT, command_id=waiting.command_id)
    assert command.state is CommandState.CANCELLED


def test_a_job_whose_machines_all_answer_completes(uow: Callable[[], UnitOfWork]) -> None:
    job = new_job(uow, machines(4), per_minute=600, failed_percent=50)
    roll_out(uow, START)
    answer_all(uow, job, every_fifth_rejects)
    roll_out(uow, START + timedelta(seconds=1))

    done = current(uow, job)
    assert done.state is JobState.COMPLETED
    assert done.end_time == START + timedelta(seconds=1)
    assert counts(done) == {"succeeded": 4}


def test_the_rollout_keeps_to_the_rate_in_any_minute(uow: Callable[[], UnitOfWork]) -> None:
    job = new_job(uow, machines(10), per_minute=3)
    started = []
    for second in (0, 0, 1, 2, 3, 30, 59, 60, 61, 62, 63):
        roll_out(uow, START + timedelta(seconds=second))
        started.append(len(commands_of(uow, job)))
    # One second's share (1) at a time, at most 3 in any 60 s: the first start
    # leaves the window at second 60.
    assert started == [1, 1, 2, 3, 3, 3, 3, 4, 5, 6, 6]


def test_a_cancelled_job_starts_nothing_more(uow: Callable[[], UnitOfWork]) -> None:
    job = new_job(uow, machines(20), per_minute=60)
    roll_out(uow, START)
    first = executions(uow, job)[0]

    cancelled = jobs.cancel_job(
        uow(), tenant_id=TENANT, job_id=job.id, through_grants=False, cancelled_by="key:boss"
    )

    assert cancelled.state is JobState.CANCELLED
    assert cancelled.detail == "cancelled by key:boss"
    assert counts(cancelled) == {"cancelled": 20}
    command = commands.get_command(uow(), tenant_id=TENANT, command_id=first.command_id)
    assert command.state is CommandState.CANCELLED
    for second in (1, 2, 90):
        roll_out(uow, START + timedelta(seconds=second))
    assert commands_of(uow, job) == {first.equipment_id}
    again = jobs.cancel_job(
        uow(), tenant_id=TENANT, job_id=job.id, through_grants=False, cancelled_by="key:boss"
    )
    assert again.update_time == cancelled.update_time


def test_an_ended_job_cannot_be_cancelled(uow: Callable[[], UnitOfWork]) -> None:
    job = new_job(uow, machines(1), per_minute=60)
    roll_out(uow, START)
    answer_all(uow, job, every_fifth_rejects)
    roll_out(uow, START + timedelta(seconds=1))
    with pytest.raises(FailedPrecondition):
        jobs.cancel_job(
            uow(), tenant_id=TENANT, job_id=job.id, through_grants=False, cancelled_by="key:x"
        )


def test_a_makers_job_sends_each_command_in_its_owners_tenant(
    uow: Callable[[], UnitOfWork],
) -> None:
    fleet = [jobs.JobMachine("machine-a", "customer-a"), jobs.JobMachine("machine-b", "customer-b")]
    job = new_job(uow, fleet, per_minute=600, tenant_id="maker", through_grants=True)
    roll_out(uow, START)

    assert commands_of(uow, job, "customer-a") == {"machine-a"}
    assert commands_of(uow, job, "customer-b") == {"machine-b"}
    assert commands_of(uow, job, "maker") == set()
    answer_all(uow, job, lambda _: CommandState.SUCCEEDED)
    roll_out(uow, START + timedelta(seconds=1))
    assert current(uow, job).state is JobState.COMPLETED
    # A maker's job is not one of the tenant's own jobs, nor any customer's.
    for tenant_id, through_grants in (("maker", False), ("customer-a", True)):
        with pytest.raises(NotFound):
            jobs.get_job(uow(), tenant_id=tenant_id, job_id=job.id, through_grants=through_grants)


def test_a_desired_state_job_ends_each_machine_when_it_applied_the_new_version(
    uow: Callable[[], UnitOfWork],
) -> None:
    twins = Twins()
    fleet = [*machines(3), jobs.JobMachine("machine-gone", TENANT)]
    change = jobs.JobDesiredChange({"feed_override": 90}, timeout_s=60)
    job = new_job(uow, fleet, per_minute=600, failed_percent=100, action=change)
    # machine-01 reported a version at least as new before the job: it has it.
    jobs.record_desired_applied(
        uow(), tenant_id=TENANT, equipment_id="machine-01", version=5, detail=""
    )
    roll_out(uow, START, twins)

    assert [p[1:] for p in twins.patches] == [
        (f"machine-{n:02d}", {"feed_override": 90}, "key:operator") for n in range(3)
    ]
    started = {e.equipment_id: e for e in executions(uow, job)}
    assert started["machine-00"].desired_version == 1
    assert started["machine-gone"].state is ExecutionState.FAILED
    jobs.record_desired_applied(
        uow(), tenant_id=TENANT, equipment_id="machine-00", version=1, detail=""
    )
    jobs.record_desired_applied(
        uow(), tenant_id=TENANT, equipment_id="machine-00", version=0, detail="an older report"
    )
    roll_out(uow, START + timedelta(seconds=1), twins)
    assert counts(current(uow, job)) == {"succeeded": 2, "pending": 1, "failed": 1}

    roll_out(uow, START + timedelta(seconds=61), twins)

    done = current(uow, job)
    assert done.state is JobState.COMPLETED
    assert counts(done) == {"succeeded": 2, "expired": 1, "failed": 1}
    assert {e.equipment_id for e in executions(uow, job) if e.state is ExecutionState.EXPIRED} == {
        "machine-02"
    }
    assert commands_of(uow, job) == set()


def test_a_machine_that_could_not_apply_it_all_fails_its_execution(
    uow: Callable[[], UnitOfWork],
) -> None:
    twins = Twins()
    change = jobs.JobDesiredChange({"mode": "eco"}, timeout_s=60)
    job = new_job(uow, machines(1), per_minute=60, action=change)
    roll_out(uow, START, twins)
    jobs.record_desired_applied(
        uow(), tenant_id=TENANT, equipment_id="machine-00", version=1, detail="mode: unknown"
    )
    roll_out(uow, START + timedelta(seconds=1), twins)
    roll_out(uow, START + timedelta(seconds=2), twins)

    failed = executions(uow, job)[0]
    assert failed.state is ExecutionState.FAILED
    assert failed.detail == "the machine could not apply all of it: mode: unknown"
    assert current(uow, job).state is JobState.ABORTED


def test_a_makers_job_never_starts_a_machine_whose_grant_ended(
    uow: Callable[[], UnitOfWork],
) -> None:
    fleet = [
        jobs.JobMachine("machine-a", "customer-a"),
        jobs.JobMachine("machine-revoked", "customer-b"),
        jobs.JobMachine("machine-expired", "customer-b", grant_expire_time=START),
    ]
    job = new_job(uow, fleet, per_minute=600, tenant_id="maker", through_grants=True)
    # Another customer cannot stop the maker's executions on a machine not its own.
    for owner in ("customer-a", "customer-b"):
        stopped = jobs.stop_granted_executions(
            uow(),
            owner_tenant_id=owner,
            equipment_id="machine-revoked",
            maker_tenant_id="maker",
            commands=True,
            desired_changes=True,
        )
        assert stopped == (1 if owner == "customer-b" else 0)

    roll_out(uow, START)

    states = {e.equipment_id: (e.state, e.detail) for e in executions(uow, job)}
    assert states["machine-a"][0] is ExecutionState.PENDING
    assert states["machine-revoked"] == (ExecutionState.CANCELLED, jobs.GRANT_ENDED)
    assert states["machine-expired"] == (ExecutionState.CANCELLED, jobs.GRANT_ENDED)
    assert commands_of(uow, job, "customer-b") == set()


def test_a_job_publishes_its_creation_and_its_end(db: Database) -> None:
    uow = unit_of_work(db)
    job = new_job(uow, machines(2), per_minute=600, failed_percent=50)
    roll_out(uow, START)
    answer_all(uow, job, lambda _: CommandState.FAILED)
    roll_out(uow, START + timedelta(seconds=1))

    with db.read() as session:
        rows = session.execute(
            select(outbox).where(outbox.c.topic == Topic.SERVITIZATION_EVENTS.value)
        ).all()
    news = [EventEnvelope.FromString(r.envelope) for r in rows if r.key == job.id]
    assert [n.type for n in news] == ["fleet_job.created", "fleet_job.aborted"]
    ended = unpack(news[1], jobs_pb2.FleetJobEnded)
    assert ended is not None
    assert ended.job.summary.failed == 2
    assert ended.job.state == jobs_pb2.JOB_STATE_ABORTED
