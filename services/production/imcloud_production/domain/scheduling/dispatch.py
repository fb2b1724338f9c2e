"""Instant schedules from dispatching rules: the fallback and the solver's warm start.

The generation scheme is Giffler and Thompson's, extended to candidate
resources and calendars: among the next operation of every job, find the one
that can finish first and its resource; the operations that could start on that
resource before then are in conflict, and the rule picks one of them, which
goes to the earliest slot of its own candidates where it finishes first. Slots
respect the working windows, blocked intervals, frozen operations, setups and
routing order. The result is an active schedule: no operation could start
earlier without delaying another.
"""

from __future__ import annotations

import bisect
import enum
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from imcloud_production.domain.scheduling.model import (
    Assignment,
    Candidate,
    Job,
    Problem,
    Schedule,
    Status,
    TimeWindow,
    job_ends,
    objective_value,
    obvious_infeasibility,
)

# ATC's look-ahead: how many average operations of slack still count as urgent.
_ATC_LOOKAHEAD = 2.0


class Rule(enum.Enum):
    # Shortest processing time first.
    SPT = "SPT"
    # Earliest due date first.
    EDD = "EDD"
    # Apparent tardiness cost: weighted shortest time first, raised sharply as the slack runs out.
    ATC = "ATC"
    # Most work remaining first: good for the makespan.
    MWKR = "MWKR"


@dataclass(frozen=True)
class _Slot:
    resource: str
    setup_start: int
    start: int
    end: int


class _FreeTime:
    """The free segments of one resource: its working windows minus what is booked."""

    def __init__(self, windows: Iterable[TimeWindow]) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        for window in windows:
            self.starts.append(window.start)
            self.ends.append(window.end)

    def earliest(self, ready: int, candidate: Candidate) -> tuple[int, int] | None:
        """(setup start, start) of the earliest slot starting at or after ``ready``."""
        index = bisect.bisect_left(self.ends, ready + candidate.duration)
        while index < len(self.starts):
            start = max(self.starts[index] + candidate.setup, ready)
            if start + candidate.duration <= self.ends[index]:
                return start - candidate.setup, start
            index += 1
        return None

    def book(self, start: int, end: int) -> None:
        first = bisect.bisect_right(self.ends, start)
        last = first
        while last < len(self.starts) and self.starts[last] < end:
            last += 1
        if first == last:
            return
        pieces = []
        if self.starts[first] < start:
            pieces.append((self.starts[first], start))
        if end < self.ends[last - 1]:
            pieces.append((end, self.ends[last - 1]))
        self.starts[first:last] = [piece_start for piece_start, _ in pieces]
        self.ends[first:last] = [piece_end for _, piece_end in pieces]


def dispatch(problem: Problem, rule: Rule) -> Schedule:
    began = time.monotonic()
    reason = obvious_infeasibility(problem)
    if reason is not None:
        return Schedule(status=Status.INFEASIBLE, method=rule.value, reason=reason)
    free = {
        resource.id: _FreeTime(resource.working_windows(problem.origin))
        for resource in problem.resources
    }
    frozen = problem.frozen_by_key()
    assignments = [
        Assignment(item.job, item.position, item.resource, item.setup_start, item.start, item.end)
        for item in problem.frozen
    ]
    for item in problem.frozen:
        free[item.resource].book(item.setup_start, item.end)
    frozen_ends = job_ends(assignments)

    jobs = list(problem.jobs)
    next_position = [
        sum(1 for position in range(len(job.operations)) if (job.id, position) in frozen)
        for job in jobs
    ]
    ready = [max(job.release, frozen_ends.get(job.id, job.release)) for job in jobs]
    durations = [
        [
            min(candidate.duration for candidate in operation.candidates)
            for operation in job.operations
        ]
        for job in jobs
    ]
    remaining = [
        sum(job_durations[position:])
        for job_durations, position in zip(durations, next_position, strict=True)
    ]
    unscheduled = sum(
        len(job.operations) - position for job, position in zip(jobs, next_position, strict=True)
    )
    mean_duration = sum(remaining) / unscheduled if unscheduled else 1.0
    # The earliest slot of each job's next operation per candidate, valid until that resource
    # is booked again.
    bookings = dict.fromkeys(free, 0)
    slots: dict[tuple[int, int, str], tuple[int, _Slot | None]] = {}

    def slot(index: int, candidate: Candidate) -> _Slot | None:
        key = (index, next_position[index], candidate.resource)
        cached = slots.get(key)
        if cached is not None and cached[0] == bookings[candidate.resource]:
            return cached[1]
        fit = free[candidate.resource].earliest(ready[index], candidate)
        found = (
            None
            if fit is None
            else _Slot(candidate.resource, fit[0], fit[1], fit[1] + candidate.duration)
        )
        slots[key] = (bookings[candidate.resource], found)
        return found

    def best_slot(index: int) -> _Slot | None:
        operation = jobs[index].operations[next_position[index]]
        found = [
            fitted
            for candidate in operation.candidates
            if (fitted := slot(index, candidate)) is not None
        ]
        return min(found, key=lambda fitted: (fitted.end, fitted.start), default=None)

    while True:
        open_jobs = [
            index for index, job in enumerate(jobs) if next_position[index] < len(job.operations)
        ]
        if not open_jobs:
            break
        best = {index: best_slot(index) for index in open_jobs}
        stuck = [index for index, fitted in best.items() if fitted is None]
        if stuck:
            job = jobs[stuck[0]]
            operation = job.operations[next_position[stuck[0]]]
            return Schedule(
                status=Status.UNKNOWN,
                method=rule.value,
                reason=f"no free working window left for operation {operation.id} of job {job.id}",
                wall_time_s=time.monotonic() - began,
            )
        placed = {index: fitted for index, fitted in best.items() if fitted is not None}
        first = min(placed, key=lambda index: (placed[index].end, placed[index].start, index))
        contested = placed[first].resource
        finish = placed[first].end
        # The operations that would hold the contested resource before the first could finish there.
        conflict: dict[int, _Slot] = {}
        for index in open_jobs:
            operation = jobs[index].operations[next_position[index]]
            for candidate in operation.candidates:
                if candidate.resource == contested:
                    fitted = slot(index, candidate)
                    if fitted is not None and fitted.setup_start < finish:
                        conflict[index] = fitted
        now = min(fitted.setup_start for fitted in conflict.values())

        chosen = min(
            conflict,
            key=lambda index: _priority(
                rule,
                jobs[index],
                index,
                conflict[index].end - conflict[index].start,
                remaining[index],
                now,
                mean_duration,
            ),
        )
        fitted = placed[chosen]
        job = jobs[chosen]
        assignments.append(
            Assignment(
                job.id,
                next_position[chosen],
                fitted.resource,
                fitted.setup_start,
                fitted.start,
                fitted.end,
            )
        )
        free[fitted.resource].book(fitted.setup_start, fitted.end)
        bookings[fitted.resource] += 1
        remaining[chosen] -= durations[chosen][next_position[chosen]]
        next_position[chosen] += 1
        ready[chosen] = fitted.end

    return Schedule(
        status=Status.FEASIBLE,
        assignments=tuple(assignments),
        method=rule.value,
        wall_time_s=time.monotonic() - began,
        job_ends=job_ends(assignments),
    )


def _priority(
    rule: Rule,
    job: Job,
    index: int,
    duration: int,
    remaining: int,
    now: int,
    mean_duration: float,
) -> tuple[float, ...]:
    """The sort key of an operation in conflict: the smallest goes first."""
    if rule is Rule.SPT:
        return (duration, index)
    if rule is Rule.MWKR:
        return (-remaining, duration, index)
    if rule is Rule.EDD:
        return (math.inf if job.due is None else job.due, duration, index)
    if job.due is None:
        return (0.0, duration, index)
    slack = max(0.0, job.due - remaining - now)
    urgency = job.weight / duration * math.exp(-slack / (_ATC_LOOKAHEAD * mean_duration))
    return (-urgency, duration, index)


def best_dispatch(problem: Problem, rules: Iterable[Rule] = tuple(Rule)) -> Schedule:
    """The rules' best schedule for the problem's objective; the first failure if none finds one."""
    schedules = [dispatch(problem, rule) for rule in rules]
    found = [schedule for schedule in schedules if schedule.found]
    if not found:
        return schedules[0]
    return min(found, key=lambda schedule: objective_value(problem, schedule.assignments))
