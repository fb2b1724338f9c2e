"""`make bench-schedule`: the scheduler's core on the public job-shop instances.

For each instance of ../shared/datasets/jobshop (Fisher and Thompson, Lawrence,
Taillard): the dispatching rules' makespans, then CP-SAT warm-started from the
best of them with a time limit, on this machine's cores. Every schedule is
checked again from its start times alone (``jobshop.check``) before it is
kept. Results merge into tests/bench/results/schedule.json by instance, so a run
over a few instances updates those and keeps the others; schedule.md and
schedule.png are written from everything in the file.

    python -m tests.bench.schedule_bench --instances 'ft*,la*,ta01-ta10' --time-limit 60
    python -m tests.bench.schedule_bench --check     # re-check the committed file only

EDD and ATC coincide with SPT here: the classic instances have no due dates.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from imcloud_production.domain.scheduling import jobshop
from imcloud_production.domain.scheduling.dispatch import Rule, dispatch
from imcloud_production.domain.scheduling.solver import Settings, solve

ROOT = Path(__file__).resolve().parents[2]
DATASETS = ROOT.parent / "shared" / "datasets" / "jobshop"
RESULTS = ROOT / "tests" / "bench" / "results"
SHOWN_RULES = (Rule.SPT, Rule.MWKR)
# The targets: mean gap to the best known makespan.
TARGETS = {"ft": 1.0, "la": 1.0, "ta01-ta50": 3.0}


@dataclass(frozen=True)
class Instance:
    name: str
    family: str
    path: Path


def say(message: str) -> None:
    print(message, flush=True)


def instances(datasets: Path) -> list[Instance]:
    order = {entry["instance"]: index for index, entry in enumerate(_bks(datasets))}
    found = []
    for path in sorted((datasets / "instances").glob("*/*.txt")):
        name = path.stem.removesuffix("js")
        found.append(Instance(name=name, family=name[:2], path=path))
    return sorted(found, key=lambda instance: (order.get(instance.name, len(order)), instance.name))


def _bks(datasets: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((datasets / "bks.json").read_text())
    return entries


def gap_percent(makespan: int, best_known: int) -> float:
    return 100.0 * (makespan - best_known) / best_known


def run(
    selected: Sequence[Instance], datasets: Path, time_limit_s: float, workers: int
) -> list[dict[str, Any]]:
    best_known = {entry["instance"]: entry for entry in _bks(datasets)}
    reference = {
        entry["instance"]: entry
        for entry in json.loads((datasets / "reference_cpsat_600s.json").read_text())["results"]
    }
    solver_name = f"OR-Tools CP-SAT {version('ortools')}"
    rows = []
    for number, instance in enumerate(selected, start=1):
        shop = jobshop.read(instance.name, instance.path.read_text())
        problem = jobshop.to_problem(shop)
        rules = {}
        for rule in SHOWN_RULES:
            schedule = dispatch(problem, rule)
            rules[rule.value] = jobshop.check(shop, jobshop.starts(shop, schedule))
        schedule = solve(problem, Settings(time_limit_s=time_limit_s, workers=workers))
        starts = jobshop.starts(shop, schedule)
        makespan = jobshop.check(shop, starts)
        if makespan != schedule.makespan:
            raise jobshop.InvalidSchedule(
                f"{instance.name}: the solver reports {schedule.makespan}, "
                f"its start times give {makespan}"
            )
        known = best_known[instance.name]
        lower_bound = schedule.objective_bound if schedule.objective_bound is not None else 0
        if lower_bound > known["upper_bound"]:
            raise AssertionError(
                f"{instance.name}: a proven bound {lower_bound} "
                f"above a known schedule {known['upper_bound']}"
            )
        row = {
            "instance": instance.name,
            "family": instance.family,
            "size": shop.size,
            "makespan": makespan,
            "lower_bound": lower_bound,
            "time_limit_s": time_limit_s,
            "cores": os.cpu_count(),
            "workers": workers,
            "status": schedule.status.value,
            "wall_time_s": round(schedule.wall_time_s, 2),
            "best_known": known["upper_bound"],
            "best_known_lower_bound": known["lower_bound"],
            "gap_percent": round(gap_percent(makespan, known["upper_bound"]), 3),
            "dispatch": rules,
            "reference_600s": {
                "ub": reference[instance.name]["ub"],
                "lb": reference[instance.name]["lb"],
            },
            "solver": solver_name,
            # What else ran: the figures move with it on a shared machine.
            "load_average_1min": round(os.getloadavg()[0], 2),
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "starts": starts,
        }
        rows.append(row)
        say(
            f"[{number}/{len(selected)}] {instance.name} ({shop.size}): {makespan} "
            f"(best known {known['upper_bound']}, gap {row['gap_percent']:.2f}%, "
            f"bound {lower_bound}, "
            f"{schedule.status.value}, {schedule.wall_time_s:.1f} s); "
            + ", ".join(f"{rule} {value}" for rule, value in rules.items())
        )
    return rows


def check_all(rows: Iterable[dict[str, Any]], datasets: Path) -> list[str]:
    """Every committed schedule against its instance: its start times give the claimed makespan."""
    paths = {instance.name: instance.path for instance in instances(datasets)}
    failures = []
    for row in rows:
        shop = jobshop.read(row["instance"], paths[row["instance"]].read_text())
        try:
            makespan = jobshop.check(shop, row["starts"])
        except jobshop.InvalidSchedule as error:
            failures.append(str(error))
            continue
        if makespan != row["makespan"]:
            failures.append(
                f"{row['instance']}: claims {row['makespan']}, its start times give {makespan}"
            )
        if row["lower_bound"] > makespan:
            failures.append(
                f"{row['instance']}: a lower bound {row['lower_bound']} "
                f"above its own makespan {makespan}"
            )
    return failures


def family_of(row: dict[str, Any]) -> str:
    return _group(row["instance"])


def _group(name: str) -> str:
    if not name.startswith("ta"):
        return name[:2]
    return "ta01-ta50" if int(name[2:]) <= 50 else "ta51-ta80"


def family_means(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(family_of(row), []).append(row)
    means = []
    for family in ("ft", "la", "ta01-ta50", "ta51-ta80"):
        members = groups.get(family, [])
        if not members:
            continue
        entry: dict[str, Any] = {
            "family": family,
            "instances": len(members),
            "of": sum(1 for instance in instances(DATASETS) if _group(instance.name) == family),
            "cp_sat": statistics.mean(row["gap_percent"] for row in members),
            "reference_600s": statistics.mean(
                gap_percent(row["reference_600s"]["ub"], row["best_known"]) for row in members
            ),
            "target": TARGETS.get(family),
        }
        for rule in SHOWN_RULES:
            entry[rule.value] = statistics.mean(
                gap_percent(row["dispatch"][rule.value], row["best_known"]) for row in members
            )
        means.append(entry)
    return means


def table(rows: Sequence[dict[str, Any]]) -> str:
    rules = [rule.value for rule in SHOWN_RULES]
    lines = [
        "| instance | size | best known | CP-SAT | gap | lower bound | status | time (s) | "
        + " | ".join(f"{rule} gap" for rule in rules)
        + " | reference 600 s gap |",
        "|---|---|---:|---:|---:|---:|---|---:|" + "---:|" * len(rules) + "---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['instance']} | {row['size']} | {row['best_known']} | {row['makespan']} | "
            f"{row['gap_percent']:.2f}% | {row['lower_bound']} | {row['status']} | "
            f"{row['wall_time_s']:.1f} | "
            + " | ".join(
                f"{gap_percent(row['dispatch'][rule], row['best_known']):.1f}%" for rule in rules
            )
            + f" | {gap_percent(row['reference_600s']['ub'], row['best_known']):.2f}% |"
        )
    return "\n".join(lines)


def means_table(means: Sequence[dict[str, Any]]) -> str:
    rules = [rule.value for rule in SHOWN_RULES]
    lines = [
        "| family | instances | CP-SAT gap | target | reference 600 s gap | "
        + " | ".join(f"{rule} gap" for rule in rules)
        + " |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(rules),
    ]
    for entry in means:
        target = f"<= {entry['target']:.0f}%" if entry["target"] is not None else ""
        lines.append(
            f"| {entry['family']} | {entry['instances']} of {entry['of']} | "
            f"{entry['cp_sat']:.2f}% | {target} | "
            f"{entry['reference_600s']:.2f}% | "
            + " | ".join(f"{entry[rule]:.1f}%" for rule in rules)
            + " |"
        )
    return "\n".join(lines)


def write_report(rows: Sequence[dict[str, Any]]) -> None:
    means = family_means(rows)
    limits = sorted({row["time_limit_s"] for row in rows})
    workers = sorted({row["workers"] for row in rows})
    cores = sorted({row["cores"] for row in rows})
    text = [
        "# Scheduling benchmark: job-shop instances",
        "",
        f"Written by `make bench-schedule` ({rows[0]['solver']}). Time limit per instance: "
        f"{', '.join(f'{limit:g} s' for limit in limits)}; "
        f"workers: {', '.join(map(str, workers))}; "
        f"cores of the machine: {', '.join(map(str, cores))}; run on this machine ({_cpu()}), "
        "shared with other work while it ran (load average over 1 min at the end of each "
        f"instance: {min(row['load_average_1min'] for row in rows):.1f} to "
        f"{max(row['load_average_1min'] for row in rows):.1f}).",
        "Gap: (makespan - best known) / best known. Lower bound: what CP-SAT proved in that time. "
        "SPT and MWKR: the dispatching rules alone (EDD and ATC equal SPT without due dates). "
        "Reference: CP-SAT with default parameters, 600 s on 4 cores (JSPLib).",
        f"Instances in this file: {len(rows)} of {len(instances(DATASETS))}.{_missing(rows)}",
        "",
        "## Mean gap per family",
        "",
        means_table(means),
        "",
        "## Per instance",
        "",
        table(rows),
        "",
    ]
    (RESULTS / "schedule.md").write_text("\n".join(text))
    chart(rows, means)


def _missing(rows: Sequence[dict[str, Any]]) -> str:
    present = {row["instance"] for row in rows}
    missing = [instance.name for instance in instances(DATASETS) if instance.name not in present]
    if not missing:
        return ""
    ranges = ",".join(_ranges(missing))
    return f' Not run here: {ranges}; `make bench-schedule ARGS="--instances {ranges}"` adds them.'


def _ranges(names: Sequence[str]) -> list[str]:
    """Consecutive instances of the dataset's order as first-last."""
    order = [instance.name for instance in instances(DATASETS)]
    runs: list[list[str]] = []
    for name in names:
        if runs and order.index(runs[-1][-1]) + 1 == order.index(name):
            runs[-1].append(name)
        else:
            runs.append([name])
    return [run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs]


def select(available: Sequence[Instance], patterns: Sequence[str]) -> list[Instance]:
    """Instances matching a glob, or inside a first-last range of the dataset's order."""
    names = [instance.name for instance in available]
    chosen: set[str] = set()
    for pattern in patterns:
        first, dash, last = pattern.partition("-")
        if dash and first in names and last in names:
            chosen.update(names[names.index(first) : names.index(last) + 1])
        else:
            chosen.update(name for name in names if fnmatch.fnmatch(name, pattern))
    return [instance for instance in available if instance.name in chosen]


def chart(rows: Sequence[dict[str, Any]], means: Sequence[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (per_instance, per_family) = plt.subplots(
        2, 1, figsize=(max(9.0, 0.12 * len(rows) + 3), 8), gridspec_kw={"height_ratios": [3, 2]}
    )
    positions = list(range(len(rows)))
    limit = rows[0]["time_limit_s"]
    # Markers, not bars: a gap of zero still shows.
    per_instance.plot(
        positions,
        [gap_percent(row["reference_600s"]["ub"], row["best_known"]) for row in rows],
        "x",
        color="#808080",
        label="reference: CP-SAT default, 600 s, 4 cores",
    )
    per_instance.plot(
        positions,
        [row["gap_percent"] for row in rows],
        "o",
        color="#4878a8",
        markersize=4,
        label=f"imcloud: CP-SAT {limit:g} s, {rows[0]['workers']} cores, warm start",
    )
    per_instance.set_xticks(positions, [row["instance"] for row in rows], rotation=90, fontsize=6)
    per_instance.set_ylabel("gap to best known (%)")
    per_instance.set_ylim(bottom=-0.1)
    per_instance.set_title("Job-shop makespan: gap to the best known schedule")
    per_instance.legend(loc="upper left", fontsize=8)

    families = [entry["family"] for entry in means]
    series = [("CP-SAT", "cp_sat", "#4878a8"), ("reference 600 s", "reference_600s", "#a0a0a0")]
    series += [
        (rule.value, rule.value, color)
        for rule, color in zip(SHOWN_RULES, ("#dd8452", "#55a868"), strict=True)
    ]
    bar = 0.8 / len(series)
    for offset, (label, key, color) in enumerate(series):
        bars = per_family.bar(
            [x + (offset - (len(series) - 1) / 2) * bar for x in range(len(families))],
            [entry[key] for entry in means],
            bar,
            color=color,
            label=label,
        )
        per_family.bar_label(bars, fmt="%.2f", fontsize=7)
    per_family.set_xticks(
        range(len(families)),
        [f"{entry['family']} ({entry['instances']} of {entry['of']})" for entry in means],
    )
    per_family.set_ylabel("mean gap (%)")
    per_family.set_yscale("symlog", linthresh=1.0)
    per_family.legend(fontsize=8, ncol=len(series), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    figure.tight_layout()
    figure.savefig(RESULTS / "schedule.png", dpi=120)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def load(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows: list[dict[str, Any]] = json.loads(path.read_text())
    return rows


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--instances",
        default="*",
        help="comma-separated globs or first-last ranges of names, e.g. 'ft*,la*,ta01-ta10'",
    )
    parser.add_argument(
        "--time-limit", type=float, default=60.0, help="seconds per instance (default 60)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="CP-SAT workers (default: the cores)",
    )
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument(
        "--report",
        action="store_true",
        help="only write schedule.md and schedule.png again from the results file",
    )
    parser.add_argument(
        "--check", action="store_true", help="only re-check the schedules in the results file"
    )
    options = parser.parse_args(arguments)
    output = RESULTS / "schedule.json"
    if options.check:
        rows = load(output)
        failures = check_all(rows, options.datasets)
        for failure in failures:
            say(f"INVALID {failure}")
        say(f"{len(rows) - len(failures)} of {len(rows)} schedules valid")
        return 1 if failures else 0

    if options.report:
        write_report(load(output))
        return 0

    patterns = [pattern.strip() for pattern in options.instances.split(",") if pattern.strip()]
    selected = select(instances(options.datasets), patterns)
    if not selected:
        say(f"no instance matches {options.instances}")
        return 1
    say(
        f"{len(selected)} instances, {options.time_limit:g} s each, {options.workers} workers "
        f"on {os.cpu_count()} cores: up to {len(selected) * options.time_limit / 60:.1f} minutes"
    )
    fresh = run(selected, options.datasets, options.time_limit, options.workers)
    order = {instance.name: index for index, instance in enumerate(instances(options.datasets))}
    merged = {row["instance"]: row for row in load(output)}
    merged.update({row["instance"]: row for row in fresh})
    rows = sorted(merged.values(), key=lambda row: order[row["instance"]])
    RESULTS.mkdir(parents=True, exist_ok=True)
    output.write_text(_dump(rows))
    write_report(rows)
    failures = check_all(rows, options.datasets)
    say("")
    say(table(fresh))
    say("")
    say(means_table(family_means(rows)))
    say(
        f"written: {output}, schedule.md, schedule.png; "
        f"{len(rows) - len(failures)} of {len(rows)} schedules valid"
    )
    return 1 if failures else 0


def _dump(rows: Sequence[dict[str, Any]]) -> str:
    """One instance per block, start times one job per line: readable and small in diffs."""
    blocks = []
    for row in rows:
        fields = [
            f"  {json.dumps(key)}: {json.dumps(value)}"
            for key, value in row.items()
            if key != "starts"
        ]
        starts = ",\n".join(f"    {json.dumps(job)}" for job in row["starts"])
        fields.append(f'  "starts": [\n{starts}\n  ]')
        blocks.append("{\n" + ",\n".join(fields) + "\n}")
    return "[\n" + ",\n".join(blocks) + "\n]\n"


if __name__ == "__main__":
    sys.exit(main())
