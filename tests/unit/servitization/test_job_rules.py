"""The rules of a fleet job without storage: when it aborts, how many machines it
may start now, what its summary counts, and which jobs are refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from imcloud_core.errors import InvalidArgument
from imcloud_servitization.domain import jobs
from imcloud_servitization.domain.jobs import ExecutionState, JobSummary
from imcloud_servitization.domain.ports import UnitOfWork

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
JOB = jobs.FleetJob(
    id="job-1",
    tenant_id="tenant-1",
    target=jobs.JobTarget(jobs.TargetKind.LINE, "line-1"),
    action=jobs.JobCommand("set_speed", {"rpm": 8000}, 300),
    machines_per_minute=120,
    failed_percent=20,
    min_ended=10,
    state=jobs.JobState.IN_PROGRESS,
    machine_count=50,
    detail="",
    requested_by="key:operator",
    through_grants=False,
    create_time=NOW,
    update_time=NOW,
)


def summary(**counts: int) -> JobSummary:
    return JobSummary({ExecutionState(state): n for state, n in counts.items()})


@pytest.mark.parametrize(
    ("counts", "aborts"),
    [
        # 2 of 9 is over 20%, but fewer than 10 ended.
        ({"succeeded": 7, "rejected": 2, "queued": 41}, False),
        # 2 of 10 is exactly the threshold.
        ({"succeeded": 8, "rejected": 2, "queued": 40}, True),
        ({"succeeded": 9, "expired": 1, "failed": 1, "queued": 39}, False),
        ({"succeeded": 8, "expired": 1, "failed": 1, "queued": 40}, True),
        # Cancelled machines count neither way: 2 of 11 judged.
        ({"succeeded": 9, "rejected": 2, "cancelled": 5, "queued": 34}, False),
        # Waiting commands do not count until they end.
        ({"succeeded": 1, "failed": 1, "pending": 20, "delivered": 28}, False),
    ],
)
def test_a_job_aborts_once_enough_ended_and_the_failed_share_reaches_the_threshold(
    counts: dict[str, int], aborts: bool
) -> None:
    assert bool(jobs.abort_reason(JOB, summary(**counts))) is aborts


def test_without_a_minimum_the_first_failure_can_abort() -> None:
    eager = replace(JOB, failed_percent=100, min_ended=0)
    assert jobs.abort_reason(eager, summary(queued=50)) == ""
    assert jobs.abort_reason(eager, summary(succeeded=1, queued=49)) == ""
    assert jobs.abort_reason(eager, summary(failed=1, queued=49)).startswith("1 of 1 ended")


@pytest.mark.parametrize(
    ("per_minute", "last_minute", "last_second", "allowed"),
    [
        (120, 0, 0, 2),
        (120, 0, 1, 1),
        (120, 0, 2, 0),
        (120, 119, 0, 1),
        (120, 120, 0, 0),
        (1, 0, 0, 1),
        (1, 1, 0, 0),
        (10_000, 0, 0, 167),
    ],
)
def test_the_allowance_spreads_the_rate_over_the_minute(
    per_minute: int, last_minute: int, last_second: int, allowed: int
) -> None:
    job = replace(JOB, machines_per_minute=per_minute)
    assert (
        jobs.allowance(job, started_last_minute=last_minute, started_last_second=last_second)
        == allowed
    )


def test_a_summary_is_finished_only_when_nothing_waits() -> None:
    assert summary(succeeded=3, rejected=1, cancelled=2).finished
    assert not summary(succeeded=3, delivered=1).finished
    assert not summary(succeeded=3, queued=1).finished
    assert summary(succeeded=3, failed=1, expired=1, rejected=2).failures == 4


def refused_fields(**changes: Any) -> set[str]:
    arguments: dict[str, Any] = {
        "tenant_id": "tenant-1",
        "target": jobs.JobTarget(jobs.TargetKind.EQUIPMENT),
        "machines": [jobs.JobMachine("machine-1", "tenant-1")],
        "action": jobs.JobCommand("set_speed", {}, 300),
        "machines_per_minute": 60,
        "failed_percent": 20,
        "min_ended": 0,
        "through_grants": False,
        "requested_by": "key:operator",
        **changes,
    }
    # A refused job never reaches storage.
    nowhere = cast(UnitOfWork, None)
    with pytest.raises(InvalidArgument) as refused:
        jobs.create_job(nowhere, **arguments)
    return {v.field for v in refused.value.violations}


def test_a_job_outside_the_limits_is_refused_naming_each_field() -> None:
    assert refused_fields(machines=[]) == {"machines"}
    too_many = [jobs.JobMachine(f"m-{n}", "tenant-1") for n in range(10_001)]
    assert refused_fields(machines=too_many) == {"machines"}
    twice = [jobs.JobMachine("m-1", "tenant-1")] * 2
    assert refused_fields(machines=twice) == {"machines"}
    assert refused_fields(machines_per_minute=0) == {"rollout.machines_per_minute"}
    assert refused_fields(machines_per_minute=10_001) == {"rollout.machines_per_minute"}
    assert refused_fields(failed_percent=0) == {"abort_criteria.failed_percent"}
    assert refused_fields(failed_percent=101) == {"abort_criteria.failed_percent"}
    assert refused_fields(min_ended=-1) == {"abort_criteria.min_ended"}
    assert refused_fields(action=jobs.JobCommand("1st", {}, 300)) == {"command.name"}
    assert refused_fields(action=jobs.JobCommand("go", {}, 86_401)) == {"command.timeout_s"}
    assert refused_fields(action=jobs.JobDesiredChange({}, 300)) == {"desired_change.desired_json"}
    assert refused_fields(action=jobs.JobDesiredChange({"a": 1}, -1)) == {
        "desired_change.timeout_s"
    }
