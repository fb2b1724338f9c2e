"""SKAB evaluation, following the benchmark's "proposed leaderboard" protocol.

Protocol (waico/SKAB at b2c0d46: core/utils.py preprocess_skab, core/metrics.py
chp_score, and the README's leaderboard notes):
- every labelled file is split with train_test_split(train_size=400, shuffle=False):
  the first 400 rows may be used for fitting, only the remaining rows are scored;
  anomaly-free.csv is not used;
- outlier detection (metric="binary"): the confusion counts of all files are
  summed, then F1 = TP / (TP + (FN + FP) / 2), FAR = FP / (FP + TN) * 100,
  MAR = FN / (FN + TP) * 100 (upstream rounds F1 to 2 decimals, rates to 2);
- changepoint detection (metric="nab"): predicted changepoints are
  |diff(prediction)| with the first row equal to the first prediction; a 60 s
  window starts at each true changepoint ("righter"); overlapping windows are cut
  on the right; only the first prediction in a window counts, weighted by tsad's
  "improved" tanh scale; the standard / low-FP / low-FN profiles use A_FP = -0.11 /
  -0.22 / -0.11 and A_FN = -1 / -1 / -2; scores are summed over files and normalised
  between the null (all windows missed) and perfect detectors.

Here the detector runs online over each whole file, from a fresh state: the first
400 rows are its warm-up (it learns from them and flags nothing), which is what
the 400-row training split allows. It never sees labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from imcloud_products.domain.anomaly import DetectorConfig, StreamingAnomalyDetector
from imcloud_products.evaluation.datasets import SKAB_SIGNALS, SkabFile, load_skab

SKAB_TRAIN_ROWS = 400
SKAB_NAB_WINDOW_MS = 60_000
# (A_TP, A_FP, A_FN) per profile, from tsad's default table_of_coef.
SKAB_NAB_PROFILES = {
    "standard": (1.0, -0.11, -1.0),
    "low_fp": (1.0, -0.22, -1.0),
    "low_fn": (1.0, -0.11, -2.0),
}
# Rows handed to the detector per update() call; results do not depend on it.
DEFAULT_BATCH_ROWS = 100


@dataclass(frozen=True)
class Confusion:
    tp: int = 0
    tn: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Confusion) -> Confusion:
        return Confusion(
            self.tp + other.tp, self.tn + other.tn, self.fp + other.fp, self.fn + other.fn
        )

    @classmethod
    def of(cls, truth: npt.NDArray[np.bool_], predicted: npt.NDArray[np.bool_]) -> Confusion:
        return cls(
            tp=int((truth & predicted).sum()),
            tn=int((~truth & ~predicted).sum()),
            fp=int((~truth & predicted).sum()),
            fn=int((truth & ~predicted).sum()),
        )

    @property
    def f1(self) -> float:
        denominator = self.tp + (self.fn + self.fp) / 2
        return self.tp / denominator if denominator else 0.0

    @property
    def far_percent(self) -> float:
        negatives = self.fp + self.tn
        return 100.0 * self.fp / negatives if negatives else 0.0

    @property
    def mar_percent(self) -> float:
        positives = self.fn + self.tp
        return 100.0 * self.fn / positives if positives else 0.0


@dataclass(frozen=True)
class ChangepointScore:
    standard: float
    low_fp: float
    low_fn: float
    missed_changepoints: int
    false_positives: int


@dataclass(frozen=True)
class SkabMetrics:
    outliers: Confusion
    per_category: dict[str, Confusion]
    per_file: dict[str, Confusion]
    changepoints: ChangepointScore
    rows_scored: int
    predictions: dict[str, npt.NDArray[np.bool_]] = field(repr=False)


def detect_skab_file(
    file: SkabFile, config: DetectorConfig, batch_rows: int = DEFAULT_BATCH_ROWS
) -> npt.NDArray[np.bool_]:
    """Stream one file through a fresh detector; per-row anomaly flags."""
    detector = StreamingAnomalyDetector(SKAB_SIGNALS, config)
    flags = []
    for start in range(0, file.values.shape[0], batch_rows):
        stop = start + batch_rows
        result = detector.update(file.timestamps[start:stop], file.values[start:stop])
        flags.append(result.is_anomaly)
    return np.concatenate(flags)


def score_skab(files: list[SkabFile], predictions: dict[str, npt.NDArray[np.bool_]]) -> SkabMetrics:
    """Score per-row predictions (whole files; the training rows are dropped here)."""
    per_file: dict[str, Confusion] = {}
    missed = false_positives = 0
    # Per profile: [detector score, null detector score, perfect score], summed over files.
    profile_scores = {profile: [0.0, 0.0, 0.0] for profile in SKAB_NAB_PROFILES}
    for file in files:
        test = slice(SKAB_TRAIN_ROWS, None)
        predicted = predictions[file.name][test]
        per_file[file.name] = Confusion.of(file.anomaly[test], predicted)

        stamps = file.timestamps[test]
        predicted_cp = np.abs(np.diff(predicted.astype(np.int64), prepend=0)) == 1
        windows = changepoint_windows(stamps[file.changepoint[test]])
        hits, fps, misses = match_changepoints(windows, stamps[predicted_cp])
        missed += len(misses)
        false_positives += len(fps)
        for profile, (a_tp, a_fp, a_fn) in SKAB_NAB_PROFILES.items():
            score = a_fp * len(fps) + a_fn * len(misses)
            score += sum(improved_scale(*hit, a_tp, a_fp) for hit in hits)
            totals = profile_scores[profile]
            totals[0] += score
            totals[1] += len(windows) * a_fn
            totals[2] += len(windows) * a_tp

    normalised = {
        profile: 100.0 * (score - null) / (perfect - null)
        for profile, (score, null, perfect) in profile_scores.items()
    }
    per_category: dict[str, Confusion] = {}
    for file in files:
        per_category[file.category] = (
            per_category.get(file.category, Confusion()) + per_file[file.name]
        )
    total = sum(per_file.values(), Confusion())
    return SkabMetrics(
        outliers=total,
        per_category=per_category,
        per_file=per_file,
        changepoints=ChangepointScore(
            standard=normalised["standard"],
            low_fp=normalised["low_fp"],
            low_fn=normalised["low_fn"],
            missed_changepoints=missed,
            false_positives=false_positives,
        ),
        rows_scored=total.tp + total.tn + total.fp + total.fn,
        predictions=predictions,
    )


def evaluate_skab(
    dataset_dir: str | Path,
    config: DetectorConfig | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> SkabMetrics:
    """Run the detector over every labelled SKAB file and score it (see module doc)."""
    config = config or DetectorConfig()
    files = load_skab(dataset_dir)
    predictions = {file.name: detect_skab_file(file, config, batch_rows) for file in files}
    return score_skab(files, predictions)


# -- tsad's NAB variant for changepoints ----------------------------------------


def changepoint_windows(changepoints_ms: npt.NDArray[np.int64]) -> list[list[int]]:
    """[cp, cp + 60 s] per true changepoint; an overlapped window loses its left part."""
    windows = [[int(cp), int(cp) + SKAB_NAB_WINDOW_MS] for cp in changepoints_ms]
    for i in range(len(windows) - 1):
        if windows[i][1] >= windows[i + 1][0]:
            windows[i + 1][0] = windows[i][1]  # tsad: intersection_mode="cut right window"
    return windows


def match_changepoints(
    windows: list[list[int]], predicted_ms: npt.NDArray[np.int64]
) -> tuple[list[tuple[int, int, int]], list[int], list[int]]:
    """tsad extract_cp_confusion_matrix: (hits as (start, first, end), FPs, missed windows)."""
    predicted = np.sort(predicted_ms)
    if not windows:
        return [], predicted.tolist(), []
    hits: list[tuple[int, int, int]] = []
    missed: list[int] = []
    false_positives = predicted[predicted < windows[0][0]].tolist()
    for i, (start, end) in enumerate(windows):
        inside = predicted[(predicted >= start) & (predicted <= end)]
        if inside.size == 0:
            missed.append(i)
        else:
            hits.append((start, int(inside[0]), end))
        following = windows[i + 1][0] if i + 1 < len(windows) else None
        after = predicted[predicted > end]
        if following is not None:
            after = after[after < following]
        false_positives.extend(after.tolist())
    return hits, false_positives, missed


def improved_scale(start: int, detected: int, end: int, a_tp: float, a_fp: float) -> float:
    """tsad my_scale (koef=1, detalization=1000, clear_anomalies_mode=True)."""
    detalization = 1000
    position = np.linspace(-math.pi / 2, math.pi / 2, detalization)
    curve = (
        (a_tp - a_fp) / 2 * -1 * np.tanh(position) / math.tanh(math.pi / 2)
        + (a_tp - a_fp) / 2
        + a_fp
    )
    width = end - start
    event = detalization - 1 if width <= 0 else int((detected - start) / width * detalization)
    return float(curve[min(event, detalization - 1)])
