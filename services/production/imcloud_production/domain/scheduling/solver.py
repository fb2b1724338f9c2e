"""The scheduler: OR-Tools CP-SAT, warm-started and backed by the dispatching rules.

The model: per operation a start and an end; per candidate resource an
interval of the resource's occupation (setup then operation), optional when
there is more than one candidate, exactly one of them present. Each resource
has one no-overlap constraint over its occupations, its frozen operations and
fixed intervals for everything outside its working windows (breaks, nights,
blocked intervals): an occupation that crossed a gap would overlap it, so each
operation runs inside one window. Routing order and release times bound the
starts.

The objective is lexicographic, weighted tardiness then makespan, as one sum:
tardiness weighted by a factor larger than any makespan (see
``model.tardiness_factor``). One solve rather than two phases, because the
time limit then covers the whole search, the warm start and every solution
found count for both criteria, and a time-out still returns the best schedule
in the lexicographic order; a second phase would need the first to be proven
optimal to be exact, which a time limit rarely allows.

The horizon is the makespan of the best dispatching schedule when the
objective is the makespan (no better schedule ends later), else the bound of
``model.horizon``. Always a time limit: the solver never hangs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

from imcloud_production.domain.scheduling.dispatch import Rule, best_dispatch
from imcloud_production.domain.scheduling.model import (
    OPEN_END,
    Assignment,
    Objective,
    Problem,
    Schedule,
    Status,
    TimeWindow,
    horizon,
    job_ends,
    objective_value,
    obvious_infeasibility,
    tardiness_factor,
)

# Measured on 2 workers (ft10, la21, la38, ta01, ta21, ta31, ta41): the stronger reasoning in the
# no-overlap constraints (precedences between the intervals of a resource, detected as the search
# goes) took the mean gap on ta01, ta21, ta41 and la38 from 2.5% to 1.8% at equal deterministic
# work, and proved ta01 optimal in 9 s instead of 75; without the linear relaxation, 30 s gave
# 2.6% instead of 3.2% on ta21, ta31, ta41 and la38. Interleaved search and LNS alone were worse.
TUNED_PARAMETERS: Mapping[str, bool | int | float] = {
    "use_strong_propagation_in_disjunctive": True,
    "use_dynamic_precedence_in_disjunctive": True,
    "exploit_all_precedences": True,
    "linearization_level": 0,
}

# For a time limit of a second or two (a repair): CP-SAT's probing in presolve took 1.1 s of
# 1.5 on a plant of 200 orders x 5 operations on 20 stations with shift calendars, so the
# dispatching schedule came back unimproved; without probing, CP-SAT improved it by 2%.
QUICK_PARAMETERS: Mapping[str, bool | int | float] = {"cp_model_probing_level": 0}


@dataclass(frozen=True)
class Settings:
    time_limit_s: float = 10.0
    # The rules tried for the fallback and warm start; each takes about 0.5 s per 1,000
    # operations, out of the time limit, so a quick repair may want one.
    rules: tuple[Rule, ...] = tuple(Rule)
    # 0: one per core of this machine.
    workers: int = 0
    warm_start: bool = True
    log: bool = False
    # CP-SAT parameters by name (sat_parameters.proto), over TUNED_PARAMETERS.
    parameters: Mapping[str, bool | int | float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Choice:
    resource: str
    setup: int
    present: cp_model.IntVar | None


def solve(problem: Problem, settings: Settings = Settings()) -> Schedule:
    began = time.monotonic()
    reason = obvious_infeasibility(problem)
    if reason is not None:
        return Schedule(status=Status.INFEASIBLE, method="cp-sat", reason=reason)
    fallback = best_dispatch(problem, settings.rules)

    limit = horizon(problem)
    if fallback.found:
        limit = (
            fallback.makespan
            if problem.objective is Objective.MAKESPAN
            else max(limit, fallback.makespan)
        )

    # Imported on the first plan, not with the module: cp_model loads pandas, a
    # second of every process start (and most processes never plan).
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    frozen = problem.frozen_by_key()
    occupations: dict[str, list[cp_model.IntervalVar]] = {
        resource.id: [] for resource in problem.resources
    }
    # Time nobody else may use: outside the windows, and the frozen operations. One fixed
    # interval per stretch, as fixed intervals overlapping each other would make it infeasible.
    taken: dict[str, list[tuple[int, int]]] = {resource.id: [] for resource in problem.resources}
    for item in problem.frozen:
        taken[item.resource].append((item.setup_start, item.end))
    for resource in problem.resources:
        windows = resource.working_windows(problem.origin)
        taken[resource.id] += _gaps(windows, problem.origin, limit)
        for span_start, span_end in _union(taken[resource.id]):
            occupations[resource.id].append(
                model.new_fixed_size_interval_var(span_start, span_end - span_start, "taken")
            )

    starts: dict[tuple[str, int], cp_model.IntVar] = {}
    ends: dict[tuple[str, int], cp_model.IntVar] = {}
    choices: dict[tuple[str, int], list[_Choice]] = {}
    job_last_ends: dict[str, cp_model.LinearExprT] = {}
    for job in problem.jobs:
        previous_end: cp_model.LinearExprT = job.release
        for position, operation in enumerate(job.operations):
            key = (job.id, position)
            if key in frozen:
                previous_end = frozen[key].end
                continue
            name = f"{job.id}#{position}"
            earliest = max(job.release, problem.origin)
            start = model.new_int_var(earliest, limit, f"start {name}")
            end = model.new_int_var(earliest, limit, f"end {name}")
            model.add(start >= previous_end)
            options: list[_Choice] = []
            if len(operation.candidates) == 1:
                candidate = operation.candidates[0]
                model.add(start - candidate.setup >= problem.origin)
                occupations[candidate.resource].append(
                    model.new_interval_var(
                        start - candidate.setup,
                        candidate.occupation,
                        end,
                        f"{name} on {candidate.resource}",
                    )
                )
                options.append(_Choice(candidate.resource, candidate.setup, None))
            else:
                for candidate in operation.candidates:
                    present = model.new_bool_var(f"{name} on {candidate.resource}")
                    model.add(start - candidate.setup >= problem.origin).only_enforce_if(present)
                    occupations[candidate.resource].append(
                        model.new_optional_interval_var(
                            start - candidate.setup,
                            candidate.occupation,
                            end,
                            present,
                            f"{name} on {candidate.resource}",
                        )
                    )
                    options.append(_Choice(candidate.resource, candidate.setup, present))
                model.add_exactly_one(
                    option.present for option in options if option.present is not None
                )
            starts[key], ends[key], choices[key] = start, end, options
            previous_end = end
        job_last_ends[job.id] = previous_end
    for intervals in occupations.values():
        if len(intervals) > 1:
            model.add_no_overlap(intervals)

    makespan = model.new_int_var(
        0, max(limit, max((item.end for item in problem.frozen), default=0)), "makespan"
    )
    model.add_max_equality(
        makespan, list(job_last_ends.values()) + [item.end for item in problem.frozen] + [0]
    )
    latenesses: dict[str, tuple[cp_model.IntVar, int]] = {}
    if problem.objective is Objective.MAKESPAN:
        model.minimize(makespan)
    else:
        terms, weights = [makespan], [1]
        factor = tardiness_factor(problem)
        for job in problem.jobs:
            if job.due is None or not job.operations:
                continue
            lateness = model.new_int_var(0, max(0, limit - job.due), f"tardiness {job.id}")
            model.add(lateness >= job_last_ends[job.id] - job.due)
            terms.append(lateness)
            weights.append(job.weight * factor)
            latenesses[job.id] = (lateness, job.due)
        model.minimize(cp_model.LinearExpr.weighted_sum(terms, weights))

    if settings.warm_start and fallback.found:
        # A complete hint: CP-SAT takes it as its first solution instead of searching for one.
        model.add_hint(makespan, fallback.makespan)
        for job_id, (lateness, due) in latenesses.items():
            model.add_hint(lateness, max(0, fallback.job_ends[job_id] - due))
        for assignment in fallback.assignments:
            key = (assignment.job, assignment.position)
            if key in frozen:
                continue
            model.add_hint(starts[key], assignment.start)
            model.add_hint(ends[key], assignment.end)
            for option in choices[key]:
                if option.present is not None:
                    model.add_hint(option.present, option.resource == assignment.resource)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(
        0.0, settings.time_limit_s - (time.monotonic() - began)
    )
    solver.parameters.num_workers = settings.workers or os.cpu_count() or 1
    solver.parameters.log_search_progress = settings.log
    for name, value in {**TUNED_PARAMETERS, **settings.parameters}.items():
        setattr(solver.parameters, name, value)
    status = solver.solve(model)

    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        assignments = list(
            Assignment(
                item.job, item.position, item.resource, item.setup_start, item.start, item.end
            )
            for item in problem.frozen
        )
        for key, options in choices.items():
            chosen = next(
                option
                for option in options
                if option.present is None or solver.boolean_value(option.present)
            )
            start_value = solver.value(starts[key])
            assignments.append(
                Assignment(
                    key[0],
                    key[1],
                    chosen.resource,
                    start_value - chosen.setup,
                    start_value,
                    solver.value(ends[key]),
                )
            )
        found = Schedule(
            status=Status.OPTIMAL if status == cp_model.OPTIMAL else Status.FEASIBLE,
            assignments=tuple(assignments),
            method="cp-sat",
            objective_bound=int(solver.best_objective_bound + 0.5),
            wall_time_s=time.monotonic() - began,
            job_ends=job_ends(assignments),
        )
        if fallback.found and objective_value(problem, fallback.assignments) < objective_value(
            problem, assignments
        ):
            return _replace(fallback, status=Status.FEASIBLE, began=began)
        return found
    if status == cp_model.INFEASIBLE:
        return Schedule(
            status=Status.INFEASIBLE,
            method="cp-sat",
            reason="no schedule fits the working windows, blocked intervals and frozen operations",
            wall_time_s=time.monotonic() - began,
        )
    if fallback.found:
        return _replace(fallback, status=Status.FEASIBLE, began=began)
    return Schedule(
        status=Status.UNKNOWN,
        method="cp-sat",
        reason=(
            f"the time limit of {settings.time_limit_s} s ended the search "
            "before any schedule was found"
        ),
        wall_time_s=time.monotonic() - began,
    )


def _replace(schedule: Schedule, status: Status, began: float) -> Schedule:
    return Schedule(
        status=status,
        assignments=schedule.assignments,
        method=schedule.method,
        wall_time_s=time.monotonic() - began,
        job_ends=schedule.job_ends,
    )


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for span_start, span_end in sorted(spans):
        if merged and span_start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], span_end))
        else:
            merged.append((span_start, span_end))
    return merged


def _gaps(windows: tuple[TimeWindow, ...], origin: int, limit: int) -> list[tuple[int, int]]:
    """The spans between origin and limit outside the windows."""
    gaps = []
    cursor = origin
    for window in windows:
        window_start, window_end = window.start, window.end
        if window_start >= limit:
            break
        if window_start > cursor:
            gaps.append((cursor, window_start))
        cursor = max(cursor, window_end)
    if cursor < limit and cursor < OPEN_END:
        gaps.append((cursor, limit))
    return gaps
