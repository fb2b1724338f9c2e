"""The classic job-shop benchmark: reading JSPLib instances and checking schedules.

The text format: a first line ``jobs machines``, then one line per job of
``machine duration`` pairs in routing order, machines numbered from 0. Lines
starting with ``#`` are comments. Each operation has exactly one machine; the
objective is the makespan.

``check`` needs nothing but the instance and the start times, so anyone can
re-check a published schedule without running a solver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from imcloud_production.domain.scheduling.model import (
    Candidate,
    Job,
    Objective,
    Operation,
    Problem,
    Resource,
    Schedule,
)


@dataclass(frozen=True)
class JobShop:
    name: str
    machines: int
    # Per job, in routing order: (machine, duration).
    jobs: tuple[tuple[tuple[int, int], ...], ...]

    @property
    def size(self) -> str:
        return f"{len(self.jobs)} x {self.machines}"


class InvalidSchedule(ValueError):
    pass


def read(name: str, text: str) -> JobShop:
    lines = [
        line.split()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines or len(lines[0]) != 2:
        raise ValueError(f"{name}: the first line is 'jobs machines'")
    job_count, machine_count = (int(value) for value in lines[0])
    if len(lines) < 1 + job_count:
        raise ValueError(f"{name}: {job_count} job lines expected, found {len(lines) - 1}")
    jobs = []
    for number, fields in enumerate(lines[1 : 1 + job_count]):
        values = [int(value) for value in fields]
        if len(values) != 2 * machine_count:
            raise ValueError(
                f"{name}: job {number} has {len(values)} numbers, expected {2 * machine_count}"
            )
        operations = tuple((values[i], values[i + 1]) for i in range(0, len(values), 2))
        for machine, duration in operations:
            if not 0 <= machine < machine_count or duration < 0:
                raise ValueError(f"{name}: job {number} has machine {machine} for {duration}")
        jobs.append(operations)
    return JobShop(name=name, machines=machine_count, jobs=tuple(jobs))


def machine_id(machine: int) -> str:
    return f"m{machine}"


def job_id(job: int) -> str:
    return f"j{job}"


def to_problem(instance: JobShop) -> Problem:
    return Problem(
        resources=tuple(Resource(machine_id(machine)) for machine in range(instance.machines)),
        jobs=tuple(
            Job(
                id=job_id(number),
                operations=tuple(
                    Operation(
                        f"{job_id(number)}.{position}", (Candidate(machine_id(machine), duration),)
                    )
                    for position, (machine, duration) in enumerate(operations)
                ),
            )
            for number, operations in enumerate(instance.jobs)
        ),
        objective=Objective.MAKESPAN,
    )


def starts(instance: JobShop, schedule: Schedule) -> list[list[int]]:
    """The start of each operation, per job in routing order: the published form of a schedule."""
    by_key = {
        (assignment.job, assignment.position): assignment.start
        for assignment in schedule.assignments
    }
    return [
        [by_key[(job_id(number), position)] for position in range(len(operations))]
        for number, operations in enumerate(instance.jobs)
    ]


def check(instance: JobShop, job_starts: Sequence[Sequence[int]]) -> int:
    """The makespan of the schedule; InvalidSchedule naming every broken rule otherwise."""
    problems: list[str] = []
    if len(job_starts) != len(instance.jobs):
        raise InvalidSchedule(
            f"{instance.name}: {len(job_starts)} jobs, expected {len(instance.jobs)}"
        )
    by_machine: dict[int, list[tuple[int, int, int, int]]] = {}
    makespan = 0
    for number, (operations, times) in enumerate(zip(instance.jobs, job_starts, strict=True)):
        if len(times) != len(operations):
            problems.append(f"job {number}: {len(times)} starts, expected {len(operations)}")
            continue
        previous_end = 0
        for position, ((machine, duration), start) in enumerate(
            zip(operations, times, strict=True)
        ):
            if start < previous_end:
                problems.append(
                    f"job {number} operation {position} starts at {start}, "
                    f"before {'its previous one ends at' if position else 'time'} {previous_end}"
                )
            previous_end = start + duration
            makespan = max(makespan, previous_end)
            by_machine.setdefault(machine, []).append((start, start + duration, number, position))
    for machine, booked in sorted(by_machine.items()):
        booked.sort()
        for (_, end, job, position), (start, _, next_job, next_position) in pairwise(booked):
            if start < end:
                problems.append(
                    f"machine {machine}: job {job} operation {position} runs until {end}, "
                    f"job {next_job} operation {next_position} starts at {start}"
                )
    if problems:
        raise InvalidSchedule(f"{instance.name}: " + "; ".join(problems))
    return makespan
