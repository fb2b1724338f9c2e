"""A finite-capacity scheduling problem and its schedule, in integer time units.

Time is an integer count of whatever unit the caller picks (seconds, minutes);
``Problem.origin`` is "now": nothing that is not frozen may start before it.

A job is a work order's routing: operations in a fixed order, each run by one of
its candidate resources (stations), with a duration and a setup time that
depend on the resource. The setup is sequence independent and prepares the
station, not the part, so it may run while the part is still at the previous
step; the station is occupied from the start of the setup to the end of the
operation.

Calendars: a resource works in sorted, disjoint working windows (its shifts).
An operation, setup included, runs inside one window: it is never interrupted
by a break, a shift end or a blocked interval, and never resumes later. That is
the simplest honest model of "no interruption" on a shift calendar; an
operation longer than every window of its stations cannot be scheduled, and
the solver says so. Windows that touch are one window: a shift handing over to
the next with no break does not interrupt the work. Blocked intervals
(maintenance, a station that is down) are cut out of the windows.

Frozen operations (started, or inside the frozen near horizon) stay exactly
where they are: on their resource, at their start. They are facts, so they are
not checked against the calendar, but they occupy their resource and the rest
of their job follows them. They are a prefix of their job's routing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# The end of a resource that has no calendar: it works from the origin on.
OPEN_END = 1 << 50


@dataclass(frozen=True, order=True)
class TimeWindow:
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"a time window ends after it starts, got [{self.start}, {self.end})")

    def contains(self, start: int, end: int) -> bool:
        return self.start <= start and end <= self.end


@dataclass(frozen=True)
class Resource:
    id: str
    # None: always working. Otherwise sorted, disjoint working windows.
    calendar: tuple[TimeWindow, ...] | None = None
    blocked: tuple[TimeWindow, ...] = ()

    def working_windows(self, origin: int) -> tuple[TimeWindow, ...]:
        """The windows work may use: from the origin on, touching ones merged, blocked cut out."""
        windows = self.calendar if self.calendar is not None else (TimeWindow(origin, OPEN_END),)
        merged: list[TimeWindow] = []
        for window in sorted(windows):
            if merged and window.start <= merged[-1].end:
                merged[-1] = TimeWindow(merged[-1].start, max(merged[-1].end, window.end))
            else:
                merged.append(window)
        return tuple(_subtract(_clip(merged, origin), self.blocked))


@dataclass(frozen=True)
class Candidate:
    resource: str
    duration: int
    setup: int = 0

    def __post_init__(self) -> None:
        if self.duration <= 0 or self.setup < 0:
            raise ValueError(
                f"on {self.resource}: a duration is positive and a setup not negative, "
                f"got {self.duration} and {self.setup}"
            )

    @property
    def occupation(self) -> int:
        return self.setup + self.duration


@dataclass(frozen=True)
class Operation:
    id: str
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class Job:
    id: str
    # In routing order.
    operations: tuple[Operation, ...]
    release: int = 0
    # None: no due date, the job never counts as late.
    due: int | None = None
    weight: int = 1


@dataclass(frozen=True)
class Frozen:
    """An operation that stays where it is: ``position`` indexes the job's routing."""

    job: str
    position: int
    resource: str
    setup_start: int
    start: int
    end: int


class Objective(enum.Enum):
    MAKESPAN = "makespan"
    # Lexicographic: the least weighted tardiness, then among those the shortest makespan.
    WEIGHTED_TARDINESS_THEN_MAKESPAN = "weighted_tardiness_then_makespan"


@dataclass(frozen=True)
class Problem:
    resources: tuple[Resource, ...]
    jobs: tuple[Job, ...]
    frozen: tuple[Frozen, ...] = ()
    objective: Objective = Objective.WEIGHTED_TARDINESS_THEN_MAKESPAN
    origin: int = 0

    def __post_init__(self) -> None:
        resource_ids = [resource.id for resource in self.resources]
        if len(set(resource_ids)) != len(resource_ids):
            raise ValueError("resource ids are unique")
        job_ids = [job.id for job in self.jobs]
        if len(set(job_ids)) != len(job_ids):
            raise ValueError("job ids are unique")
        known = set(resource_ids)
        for job in self.jobs:
            for operation in job.operations:
                for candidate in operation.candidates:
                    if candidate.resource not in known:
                        raise ValueError(
                            f"operation {operation.id} of job {job.id} names an unknown "
                            f"resource {candidate.resource}"
                        )
        jobs = {job.id: job for job in self.jobs}
        positions: dict[str, set[int]] = {}
        for frozen in self.frozen:
            owner = jobs.get(frozen.job)
            if owner is None or not 0 <= frozen.position < len(owner.operations):
                raise ValueError(f"frozen operation {frozen.job}#{frozen.position} is not in a job")
            if frozen.resource not in known:
                raise ValueError(
                    f"frozen operation {frozen.job}#{frozen.position} names an unknown resource"
                )
            if not frozen.setup_start <= frozen.start < frozen.end:
                raise ValueError(
                    f"frozen operation {frozen.job}#{frozen.position} has no positive length"
                )
            positions.setdefault(frozen.job, set()).add(frozen.position)
        for job_id, frozen_positions in positions.items():
            if frozen_positions != set(range(len(frozen_positions))):
                raise ValueError(
                    f"the frozen operations of job {job_id} are a prefix of its routing"
                )

    def frozen_by_key(self) -> dict[tuple[str, int], Frozen]:
        return {(frozen.job, frozen.position): frozen for frozen in self.frozen}

    def resource_by_id(self) -> dict[str, Resource]:
        return {resource.id: resource for resource in self.resources}


@dataclass(frozen=True)
class Assignment:
    job: str
    position: int
    resource: str
    # The resource is occupied from setup_start to end; the operation itself runs from start.
    setup_start: int
    start: int
    end: int


class Status(enum.Enum):
    OPTIMAL = "optimal"
    # The time limit ended the search: the best schedule found, not proven optimal.
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    # The time limit ended the search before any schedule was found.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Schedule:
    status: Status
    assignments: tuple[Assignment, ...] = ()
    # Which method produced the assignments: "cp-sat" or a dispatching rule.
    method: str = ""
    # Why there is no schedule, for INFEASIBLE and UNKNOWN.
    reason: str = ""
    # The best bound on the objective proved by the solver, in objective units.
    objective_bound: int | None = None
    wall_time_s: float = 0.0
    job_ends: Mapping[str, int] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.status in (Status.OPTIMAL, Status.FEASIBLE)

    @property
    def makespan(self) -> int:
        return max((assignment.end for assignment in self.assignments), default=0)


class Impossible(enum.Enum):
    # No resource can run the operation.
    NO_CANDIDATE = "no candidate"
    # It runs uninterrupted, and no working window of its candidates is long enough.
    NO_WINDOW = "no window"


def impossible_operations(problem: Problem) -> dict[str, tuple[int, Impossible]]:
    """Per job that no schedule can contain, whatever the other jobs do: the
    position of its first operation that shows it, and why."""
    frozen = problem.frozen_by_key()
    longest_window = {
        resource.id: max(
            (window.end - window.start for window in resource.working_windows(problem.origin)),
            default=0,
        )
        for resource in problem.resources
    }
    found: dict[str, tuple[int, Impossible]] = {}
    for job in problem.jobs:
        for position, operation in enumerate(job.operations):
            if (job.id, position) in frozen:
                continue
            if not operation.candidates:
                found[job.id] = (position, Impossible.NO_CANDIDATE)
                break
            if all(
                candidate.occupation > longest_window[candidate.resource]
                for candidate in operation.candidates
            ):
                found[job.id] = (position, Impossible.NO_WINDOW)
                break
    return found


def obvious_infeasibility(problem: Problem) -> str | None:
    """Why no schedule can exist, when one operation alone shows it; None otherwise."""
    for job_id, (position, why) in impossible_operations(problem).items():
        operation = next(job for job in problem.jobs if job.id == job_id).operations[position]
        if why is Impossible.NO_CANDIDATE:
            return f"operation {operation.id} of job {job_id}: no resource can run it"
        names = ", ".join(candidate.resource for candidate in operation.candidates)
        return (
            f"operation {operation.id} of job {job_id}: it runs uninterrupted, "
            f"and no working window of {names} is long enough for it and its setup"
        )
    return None


def job_ends(assignments: Iterable[Assignment]) -> dict[str, int]:
    ends: dict[str, int] = {}
    for assignment in assignments:
        ends[assignment.job] = max(ends.get(assignment.job, assignment.end), assignment.end)
    return ends


def weighted_tardiness(jobs: Sequence[Job], assignments: Iterable[Assignment]) -> int:
    ends = job_ends(assignments)
    return sum(
        job.weight * max(0, ends[job.id] - job.due)
        for job in jobs
        if job.due is not None and job.id in ends
    )


def objective_value(problem: Problem, assignments: Sequence[Assignment]) -> int:
    """The objective as one integer, so that comparing two schedules is comparing two numbers."""
    makespan = max((assignment.end for assignment in assignments), default=0)
    if problem.objective is Objective.MAKESPAN:
        return makespan
    return weighted_tardiness(problem.jobs, assignments) * tardiness_factor(problem) + makespan


def tardiness_factor(problem: Problem) -> int:
    """One unit of weighted tardiness outweighs any makespan: the horizon bounds every makespan."""
    return horizon(problem) + 1


def horizon(problem: Problem) -> int:
    """A time no operation of a left-shifted schedule ends after, if any schedule exists.

    In a schedule where nothing can start earlier, the last operation follows
    a chain of operations each starting as soon as the one before it ends or
    its window opens; so the latest fixed time (release, frozen end, blocked
    end, calendar end) plus every operation's longest occupation bounds it.
    The objectives only grow with completion times, so some optimal schedule
    is left-shifted.
    """
    fixed_times = [problem.origin]
    fixed_times += [job.release for job in problem.jobs]
    fixed_times += [frozen.end for frozen in problem.frozen]
    for resource in problem.resources:
        fixed_times += [window.end for window in resource.blocked]
        if resource.calendar:
            fixed_times.append(max(window.end for window in resource.calendar))
    frozen = problem.frozen_by_key()
    work = sum(
        max((candidate.occupation for candidate in operation.candidates), default=0)
        for job in problem.jobs
        for position, operation in enumerate(job.operations)
        if (job.id, position) not in frozen
    )
    return max(fixed_times) + work


def _clip(windows: Iterable[TimeWindow], origin: int) -> list[TimeWindow]:
    return [
        TimeWindow(max(window.start, origin), window.end)
        for window in windows
        if window.end > origin
    ]


def _subtract(windows: Iterable[TimeWindow], blocked: Iterable[TimeWindow]) -> list[TimeWindow]:
    pieces = list(windows)
    for cut in blocked:
        remaining: list[TimeWindow] = []
        for piece in pieces:
            if cut.end <= piece.start or piece.end <= cut.start:
                remaining.append(piece)
                continue
            if piece.start < cut.start:
                remaining.append(TimeWindow(piece.start, cut.start))
            if cut.end < piece.end:
                remaining.append(TimeWindow(cut.end, piece.end))
        pieces = remaining
    return pieces
