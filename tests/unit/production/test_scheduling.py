"""The scheduler's core: dispatching rules and CP-SAT on plain problems.

Every schedule either produces is checked here from first principles (not with
the code under test): one operation at a time per resource, routing order,
inside one working window and outside blocked intervals, only candidate
resources, durations and setups as given, frozen operations unchanged.
"""

from __future__ import annotations

import time
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imcloud_production.domain.scheduling import jobshop
from imcloud_production.domain.scheduling.dispatch import Rule, best_dispatch, dispatch
from imcloud_production.domain.scheduling.model import (
    Candidate,
    Frozen,
    Job,
    Objective,
    Operation,
    Problem,
    Resource,
    Schedule,
    Status,
    TimeWindow,
    weighted_tardiness,
)
from imcloud_production.domain.scheduling.solver import Settings, solve

# Fisher and Thompson's 6 x 6 instance (JSPLib, CC BY-SA 4.0); its optimum is 55.
FT06 = """6 6
2 1 0 3 1 6 3 7 5 3 4 6
1 8 2 5 4 10 5 10 0 10 3 4
2 5 3 4 5 8 0 9 1 1 4 7
1 5 0 5 2 5 3 3 4 8 5 9
2 9 1 3 4 5 5 4 0 3 3 1
1 3 3 3 5 9 0 10 4 4 2 1
"""

QUICK = Settings(time_limit_s=5.0, workers=1)


def violations(problem: Problem, schedule: Schedule) -> list[str]:
    """Every rule the schedule breaks, checked without the scheduler's own helpers."""
    found: list[str] = []
    resources = {resource.id: resource for resource in problem.resources}
    frozen = {(item.job, item.position): item for item in problem.frozen}
    placed = {(item.job, item.position): item for item in schedule.assignments}
    if len(placed) != len(schedule.assignments):
        found.append("an operation is scheduled twice")
    for job in problem.jobs:
        previous_end = None
        for position, operation in enumerate(job.operations):
            key = (job.id, position)
            item = placed.get(key)
            if item is None:
                found.append(f"{key} is not scheduled")
                continue
            if key in frozen:
                fixed = frozen[key]
                if (item.resource, item.setup_start, item.start, item.end) != (
                    fixed.resource,
                    fixed.setup_start,
                    fixed.start,
                    fixed.end,
                ):
                    found.append(f"frozen {key} moved")
            else:
                candidate = next(
                    (c for c in operation.candidates if c.resource == item.resource), None
                )
                if candidate is None:
                    found.append(f"{key} runs on {item.resource}, not a candidate")
                else:
                    if (
                        item.end - item.start != candidate.duration
                        or item.start - item.setup_start != candidate.setup
                    ):
                        found.append(f"{key} has the wrong duration or setup")
                    if item.start < job.release or item.setup_start < problem.origin:
                        found.append(f"{key} starts before its release or the origin")
                    found += _calendar_violations(
                        resources[item.resource], key, item.setup_start, item.end
                    )
            if previous_end is not None and item.start < previous_end:
                found.append(f"{key} starts before the previous operation of its job ends")
            previous_end = item.end
    by_resource: dict[str, list[tuple[int, int]]] = {}
    for item in schedule.assignments:
        by_resource.setdefault(item.resource, []).append((item.setup_start, item.end))
    for resource, booked in by_resource.items():
        booked.sort()
        for (_, end), (start, _) in pairwise(booked):
            if start < end:
                found.append(f"{resource} is double-booked at {start}")
    return found


def _calendar_violations(
    resource: Resource, key: tuple[str, int], start: int, end: int
) -> list[str]:
    found = []
    if resource.calendar is not None:
        merged: list[list[int]] = []
        for window in sorted(resource.calendar):
            if merged and window.start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], window.end)
            else:
                merged.append([window.start, window.end])
        if not any(
            window_start <= start and end <= window_end for window_start, window_end in merged
        ):
            found.append(f"{key} on {resource.id} is not inside one working window")
    for blocked in resource.blocked:
        if start < blocked.end and blocked.start < end:
            found.append(f"{key} on {resource.id} overlaps a blocked interval")
    return found


def one_machine(
    *jobs: Job, calendar: tuple[TimeWindow, ...] | None = None, blocked: tuple[TimeWindow, ...] = ()
) -> Problem:
    return Problem(resources=(Resource("m", calendar, blocked),), jobs=jobs)


def single(
    job: str,
    duration: int,
    *,
    release: int = 0,
    due: int | None = None,
    weight: int = 1,
    setup: int = 0,
) -> Job:
    return Job(
        job,
        (Operation(f"{job}.0", (Candidate("m", duration, setup),)),),
        release=release,
        due=due,
        weight=weight,
    )


# --- job shop: reading, checking, the classic optimum ---


def test_ft06_is_solved_to_its_known_optimum_and_every_rule_gives_a_valid_schedule() -> None:
    shop = jobshop.read("ft06", FT06)
    problem = jobshop.to_problem(shop)

    schedule = solve(problem, QUICK)

    assert schedule.status is Status.OPTIMAL
    assert jobshop.check(shop, jobshop.starts(shop, schedule)) == 55
    assert schedule.objective_bound == 55
    for rule in Rule:
        dispatched = dispatch(problem, rule)
        assert jobshop.check(shop, jobshop.starts(shop, dispatched)) >= 55


def test_the_job_shop_check_names_overlaps_and_broken_routing_order() -> None:
    shop = jobshop.read("tiny", "2 2\n0 3 1 2\n0 2 1 4\n")

    assert jobshop.check(shop, [[0, 3], [3, 5]]) == 9
    with pytest.raises(jobshop.InvalidSchedule, match="machine 0"):
        jobshop.check(shop, [[0, 3], [1, 5]])
    with pytest.raises(jobshop.InvalidSchedule, match="before its previous one ends"):
        jobshop.check(shop, [[0, 2], [3, 7]])
    with pytest.raises(jobshop.InvalidSchedule, match="1 jobs, expected 2"):
        jobshop.check(shop, [[0, 3]])


def test_a_job_line_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="job 1"):
        jobshop.read("broken", "2 2\n0 3 1 2\n0 2 1\n")


# --- calendars, blocked intervals, setups ---


def test_an_operation_does_not_run_across_a_break_it_waits_for_a_window_long_enough() -> None:
    problem = one_machine(single("a", 5), calendar=(TimeWindow(0, 4), TimeWindow(6, 20)))

    for schedule in (dispatch(problem, Rule.SPT), solve(problem, QUICK)):
        assert [(item.start, item.end) for item in schedule.assignments] == [(6, 11)]


def test_windows_that_touch_are_one_window() -> None:
    problem = one_machine(single("a", 6), calendar=(TimeWindow(0, 4), TimeWindow(4, 10)))

    assert [item.start for item in solve(problem, QUICK).assignments] == [0]


def test_a_blocked_interval_pushes_the_work_after_it_and_the_setup_goes_with_the_work() -> None:
    problem = one_machine(single("a", 4, setup=2), blocked=(TimeWindow(3, 10),))

    for schedule in (dispatch(problem, Rule.SPT), solve(problem, QUICK)):
        assert [(item.setup_start, item.start, item.end) for item in schedule.assignments] == [
            (10, 12, 16)
        ]


def test_a_faster_candidate_is_used_and_a_second_one_takes_work_in_parallel() -> None:
    operation = (Candidate("slow", 10), Candidate("fast", 4))
    problem = Problem(
        resources=(Resource("slow"), Resource("fast")),
        jobs=tuple(Job(name, (Operation(f"{name}.0", operation),)) for name in ("a", "b", "c")),
        objective=Objective.MAKESPAN,
    )

    schedule = solve(problem, QUICK)

    assert schedule.status is Status.OPTIMAL
    assert schedule.makespan == 10
    assert sorted(item.resource for item in schedule.assignments) == ["fast", "fast", "slow"]


# --- objectives and rules ---


def test_tardiness_comes_first_so_the_urgent_job_runs_first_even_though_it_is_longer() -> None:
    problem = one_machine(single("long urgent", 5, due=5), single("short", 3, due=100))

    schedule = solve(problem, QUICK)

    assert schedule.job_ends["long urgent"] == 5
    assert weighted_tardiness(problem.jobs, schedule.assignments) == 0
    assert dispatch(problem, Rule.SPT).job_ends["long urgent"] == 8
    assert dispatch(problem, Rule.EDD).job_ends["long urgent"] == 5


def test_among_equally_late_schedules_the_shorter_makespan_wins() -> None:
    # No order makes anyone late; the release of b leaves a hole unless a goes first.
    problem = one_machine(single("a", 4, due=50), single("b", 3, release=4, due=50))

    schedule = solve(problem, QUICK)

    assert schedule.status is Status.OPTIMAL
    assert schedule.makespan == 7


def test_the_heavier_job_of_two_that_cannot_both_be_on_time_is_the_one_on_time() -> None:
    problem = one_machine(single("light", 4, due=4, weight=1), single("heavy", 4, due=4, weight=5))

    schedule = solve(problem, QUICK)

    assert schedule.job_ends["heavy"] == 4
    assert weighted_tardiness(problem.jobs, schedule.assignments) == 4
    atc = dispatch(problem, Rule.ATC)
    assert atc.job_ends["heavy"] == 4


# --- what cannot be scheduled, and time limits ---


def test_an_operation_no_resource_can_run_is_infeasible_with_its_name() -> None:
    problem = Problem(resources=(Resource("m"),), jobs=(Job("order 7", (Operation("paint", ()),)),))

    for schedule in (solve(problem, QUICK), dispatch(problem, Rule.EDD)):
        assert schedule.status is Status.INFEASIBLE
        assert "paint" in schedule.reason
        assert "order 7" in schedule.reason


def test_an_operation_longer_than_every_window_is_infeasible_with_the_reason() -> None:
    problem = one_machine(single("a", 9), calendar=(TimeWindow(0, 8), TimeWindow(10, 18)))

    schedule = solve(problem, QUICK)

    assert schedule.status is Status.INFEASIBLE
    assert "long enough" in schedule.reason


def test_a_due_date_before_the_release_is_late_not_infeasible() -> None:
    problem = one_machine(single("a", 3, release=10, due=5))

    schedule = solve(problem, QUICK)

    assert schedule.status is Status.OPTIMAL
    assert weighted_tardiness(problem.jobs, schedule.assignments) == 8


def test_a_calendar_that_runs_out_is_infeasible_not_a_hang() -> None:
    problem = one_machine(
        single("a", 4), single("b", 4), calendar=(TimeWindow(0, 5), TimeWindow(7, 10))
    )

    schedule = solve(problem, QUICK)

    assert schedule.status is Status.INFEASIBLE
    assert schedule.reason


def test_the_time_limit_holds_and_the_best_schedule_found_comes_back() -> None:
    shop = jobshop.read("generated", _large_instance(jobs=50, machines=20))
    problem = jobshop.to_problem(shop)
    began = time.monotonic()

    schedule = solve(problem, Settings(time_limit_s=1.0, workers=1))

    assert time.monotonic() - began < 4.0
    assert schedule.status in (Status.FEASIBLE, Status.OPTIMAL)
    assert schedule.makespan <= best_dispatch(problem).makespan
    jobshop.check(shop, jobshop.starts(shop, schedule))


def _large_instance(jobs: int, machines: int) -> str:
    lines = [f"{jobs} {machines}"]
    for job in range(jobs):
        # 3 and the machine count share no divisor: each job visits every machine once.
        order = [(job * 7 + step * 3) % machines for step in range(machines)]
        lines.append(
            " ".join(f"{machine} {1 + (job * 31 + machine * 17) % 50}" for machine in order)
        )
    return "\n".join(lines) + "\n"


def test_frozen_operations_must_be_a_prefix_of_their_routing() -> None:
    job = Job("a", (Operation("a.0", (Candidate("m", 2),)), Operation("a.1", (Candidate("m", 2),))))
    with pytest.raises(ValueError, match="prefix"):
        Problem(resources=(Resource("m"),), jobs=(job,), frozen=(Frozen("a", 1, "m", 0, 0, 2),))


def test_a_frozen_operation_stays_and_the_rest_of_its_job_follows_it() -> None:
    job = Job("a", (Operation("a.0", (Candidate("m", 2),)), Operation("a.1", (Candidate("m", 3),))))
    other = single("b", 2)
    problem = Problem(
        resources=(Resource("m"),), jobs=(job, other), frozen=(Frozen("a", 0, "m", -1, -1, 4),)
    )

    for schedule in (dispatch(problem, Rule.SPT), solve(problem, QUICK)):
        assert violations(problem, schedule) == []
        assert (
            next(
                item for item in schedule.assignments if item.job == "a" and item.position == 1
            ).start
            >= 4
        )


# --- random plants: every schedule from both methods keeps every rule ---


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    resource_count = draw(st.integers(1, 4))
    resources = []
    for number in range(resource_count):
        calendar = None
        if draw(st.booleans()):
            windows, cursor = [], draw(st.integers(0, 5))
            for _ in range(draw(st.integers(1, 4))):
                length = draw(st.integers(12, 40))
                windows.append(TimeWindow(cursor, cursor + length))
                cursor += length + draw(st.integers(0, 10))
            windows.append(TimeWindow(cursor, cursor + 2000))
            calendar = tuple(windows)
        blocked = tuple(
            TimeWindow(start, start + length)
            for start, length in draw(
                st.lists(st.tuples(st.integers(0, 80), st.integers(1, 15)), max_size=2)
            )
        )
        resources.append(Resource(f"r{number}", calendar, blocked))
    names = [resource.id for resource in resources]
    jobs = []
    for number in range(draw(st.integers(1, 5))):
        operations = []
        for position in range(draw(st.integers(1, 4))):
            chosen = draw(
                st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True)
            )
            operations.append(
                Operation(
                    f"j{number}.{position}",
                    tuple(
                        Candidate(name, draw(st.integers(1, 10)), draw(st.integers(0, 3)))
                        for name in chosen
                    ),
                )
            )
        jobs.append(
            Job(
                f"j{number}",
                tuple(operations),
                release=draw(st.integers(0, 20)),
                due=draw(st.none() | st.integers(0, 120)),
                weight=draw(st.integers(1, 3)),
            )
        )
    # Work already running at the origin, one after the other on each resource.
    frozen, cursors = [], dict.fromkeys(names, -15)
    for job in jobs:
        if draw(st.booleans()):
            candidate = job.operations[0].candidates[0]
            start = cursors[candidate.resource]
            frozen.append(
                Frozen(
                    job.id,
                    0,
                    candidate.resource,
                    start,
                    start + candidate.setup,
                    start + candidate.occupation,
                )
            )
            cursors[candidate.resource] = start + candidate.occupation
    return Problem(
        resources=tuple(resources),
        jobs=tuple(jobs),
        frozen=tuple(frozen),
        objective=draw(st.sampled_from(list(Objective))),
    )


def _assert_valid_when_found(problem: Problem, schedule: Schedule) -> None:
    if schedule.found:
        assert violations(problem, schedule) == []
    else:
        assert schedule.reason


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.sampled_from(list(Rule)))
def test_every_dispatching_schedule_keeps_every_rule(problem: Problem, rule: Rule) -> None:
    _assert_valid_when_found(problem, dispatch(problem, rule))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_every_solver_schedule_keeps_every_rule_and_is_no_worse_than_the_rules(
    problem: Problem,
) -> None:
    schedule = solve(problem, Settings(time_limit_s=2.0, workers=1))

    _assert_valid_when_found(problem, schedule)
    dispatched = best_dispatch(problem)
    if dispatched.found:
        assert schedule.found
        assert _objective(problem, schedule) <= _objective(problem, dispatched)


def _objective(problem: Problem, schedule: Schedule) -> tuple[int, int]:
    return (
        (0, schedule.makespan)
        if problem.objective is Objective.MAKESPAN
        else (weighted_tardiness(problem.jobs, schedule.assignments), schedule.makespan)
    )
