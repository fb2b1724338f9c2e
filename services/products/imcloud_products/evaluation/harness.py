"""Runs every benchmark and formats the results as a table.

run_all(datasets_dir) returns rows; format_table(rows) renders them. The command
line wiring lives elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imcloud_products.domain.anomaly import DetectorConfig
from imcloud_products.evaluation.nab import NAB_DETECTOR_CONFIG, evaluate_nab
from imcloud_products.evaluation.skab import evaluate_skab
from imcloud_products.evaluation.throughput import measure_throughput

# Best published figures, for orientation only: the SKAB leaderboard covers 34
# files (valve2 included) and NAB's scoreboard all 58 NAB files, so neither is
# directly comparable with the subsets evaluated here.
SKAB_REFERENCE = "Conv-AE 0.78 / 13.55 / 28.02 (34 files)"
SKAB_CHANGEPOINT_REFERENCE = "MSCRED 32.42 (34 files)"
NAB_REFERENCE = "ARTime 74.9, HTM 70.5 (58 files)"


@dataclass(frozen=True)
class ResultRow:
    benchmark: str
    subset: str
    metric: str
    value: float
    reference: str = ""


def skab_rows(datasets_dir: str | Path, config: DetectorConfig | None = None) -> list[ResultRow]:
    metrics = evaluate_skab(datasets_dir, config)
    rows = []
    subsets = {"all 30 files": metrics.outliers, **metrics.per_category}
    for subset, confusion in subsets.items():
        reference = SKAB_REFERENCE if subset == "all 30 files" else ""
        rows += [
            ResultRow("SKAB outliers", subset, "F1", confusion.f1, reference),
            ResultRow("SKAB outliers", subset, "FAR %", confusion.far_percent),
            ResultRow("SKAB outliers", subset, "MAR %", confusion.mar_percent),
        ]
    changepoints = metrics.changepoints
    rows += [
        ResultRow(
            "SKAB changepoints",
            "all 30 files",
            "NAB standard",
            changepoints.standard,
            SKAB_CHANGEPOINT_REFERENCE,
        ),
        ResultRow("SKAB changepoints", "all 30 files", "NAB low FP", changepoints.low_fp),
        ResultRow("SKAB changepoints", "all 30 files", "NAB low FN", changepoints.low_fn),
        ResultRow(
            "SKAB changepoints",
            "all 30 files",
            "missed CPs",
            float(changepoints.missed_changepoints),
        ),
        ResultRow("SKAB changepoints", "all 30 files", "FPs", float(changepoints.false_positives)),
    ]
    return rows


def nab_rows(datasets_dir: str | Path, config: DetectorConfig | None = None) -> list[ResultRow]:
    metrics = evaluate_nab(datasets_dir, config or NAB_DETECTOR_CONFIG)
    subset = f"realKnownCause, 3 files ({metrics.windows} windows)"
    names = {
        "standard": "standard",
        "reward_low_FP_rate": "low FP",
        "reward_low_FN_rate": "low FN",
    }
    return [
        ResultRow(
            "NAB",
            subset,
            f"normalised {names[profile]}",
            result.normalised,
            NAB_REFERENCE if profile == "standard" else "",
        )
        for profile, result in metrics.profiles.items()
    ]


def throughput_rows() -> list[ResultRow]:
    measured = measure_throughput()
    subset = (
        f"{measured.machines} machines x {measured.signals} signals, "
        f"batches of {measured.batch_rows} rows"
    )
    return [ResultRow("throughput", subset, "points/s", measured.points_per_second, "need 100000")]


def run_all(datasets_dir: str | Path, include_throughput: bool = True) -> list[ResultRow]:
    """Every benchmark with the shipped configurations."""
    rows = skab_rows(datasets_dir) + nab_rows(datasets_dir)
    if include_throughput:
        rows += throughput_rows()
    return rows


def format_table(rows: list[ResultRow]) -> str:
    header = ("benchmark", "subset", "metric", "value", "reference")
    cells = [header] + [
        (row.benchmark, row.subset, row.metric, _format_value(row.value), row.reference)
        for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(width) if i == 3 else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _format_value(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) < 1.0:
        return f"{value:.4f}"
    return f"{value:.2f}"
