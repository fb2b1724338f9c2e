"""Streaming anomaly detector for one machine's telemetry.

Pipeline for each row, all learned online from the stream itself:

1. Data quality (quality.py): NaN/inf cells, stuck sensors, time gaps.
2. Per-signal standardisation (univariate.py): deviation of each signal from its
   slowly adapting baseline, in units of its normal spread.
3. Smoothing: an EWMA of each standardised deviation (a per-signal control chart).
4. Machine score (multivariate.py): the larger of the most deviating signal's
   chart statistic and the Mahalanobis statistic of the whole smoothed deviation
   vector under its learned covariance, both as squared standard-normal deviates
   (about 1 in normal running); they also rank the top contributing signals.
5. Flag (alarm.py): hysteresis on the score.
6. Learning: once per block of `block_rows` rows, the models blend in the block's
   rows. Rows flagged anomalous count only a little for the baselines
   (anomalous_row_weight, anomalous_row_spread_weight) and not at all for the
   deviation covariance; cells with a data-quality issue count not at all. So an
   anomaly or bad data does not become the new normal, while a lasting change of
   regime eventually does.

Scores inside a block use the model as it was at the block's start. Blocks are
counted from the start of the stream, and everything that carries from row to row
is part of the state, so results do not depend on how the stream is cut into
batches, nor on a save/restore between batches: they are bit-identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from imcloud_products.domain.anomaly.alarm import AlarmLatch
from imcloud_products.domain.anomaly.config import DetectorConfig
from imcloud_products.domain.anomaly.multivariate import DeviationModel, top_signal_indices
from imcloud_products.domain.anomaly.quality import (
    QualityFlag,
    RepeatRuns,
    StuckSensorMonitor,
    TimeStepMonitor,
)
from imcloud_products.domain.anomaly.serialization import (
    STATE_FORMAT_VERSION,
    decode_array,
    encode_array,
)
from imcloud_products.domain.anomaly.smoothing import FloatArray, ewma_rows
from imcloud_products.domain.anomaly.univariate import SignalBaselines

BoolArray = npt.NDArray[np.bool_]

# Readings beyond this magnitude are treated as missing: no real sensor reports
# them, and their squares would overflow the learned statistics.
MAX_ABS_VALUE = 1e100

# The covariance of smoothed deviations is learned only from the second half of
# the warm-up: before that, baselines are still settling and the deviations are
# meaningless.
_DEVIATION_LEARNING_START_SHARE = 0.5


@dataclass(frozen=True)
class DetectionResult:
    """Per-row output of StreamingAnomalyDetector.update (arrays of equal length)."""

    signal_names: tuple[str, ...]
    timestamps: npt.NDArray[np.int64]
    # Machine score, a squared standard-normal deviate (about 1 in normal running);
    # the flag is raised at threshold_on. 0 while warming up.
    score: FloatArray
    # Process anomaly (never raised for data-quality issues alone or during warm-up).
    is_anomaly: BoolArray
    # Univariate score of each signal: its squared standardised smoothed deviation.
    signal_scores: FloatArray
    # Each signal's share of the multivariate statistic T^2 (they sum to it; a
    # negative share means the signal's deviation is explained by its correlations).
    contributions: FloatArray
    # True where the multivariate statistic (not a single signal) set the score.
    multivariate_decides: BoolArray
    # Indices into signal_names of the top contributing signals, -1 padded.
    top_signals: npt.NDArray[np.int16]
    # QualityFlag bits per row.
    quality: npt.NDArray[np.uint16]
    # Cells whose sensor is judged stuck.
    stuck: BoolArray
    # Cells that were NaN, infinite or beyond MAX_ABS_VALUE.
    missing: BoolArray

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    @property
    def has_data_quality_issue(self) -> BoolArray:
        issues: BoolArray = (self.quality & np.uint16(QualityFlag.data_quality_issues())) != 0
        return issues

    def top_signal_names(self, row: int) -> list[str]:
        return [self.signal_names[i] for i in self.top_signals[row] if i >= 0]


class _BlockBuffer:
    """Rows of the current, unfinished learning block (part of the state)."""

    _FIELDS = (
        "values",
        "present",
        "stuck",
        "observed",
        "changed",
        "smoothed",
        "row_index",
        "time_step",
        "time_gap",
        "suspect",
    )

    def __init__(self, rows: int, n_signals: int) -> None:
        self.fill = 0
        self.values = np.zeros((rows, n_signals))
        self.present = np.zeros((rows, n_signals), dtype=bool)
        self.stuck = np.zeros((rows, n_signals), dtype=bool)
        self.observed = np.zeros((rows, n_signals), dtype=bool)
        self.changed = np.zeros((rows, n_signals), dtype=bool)
        self.smoothed = np.zeros((rows, n_signals))
        self.row_index = np.zeros(rows, dtype=np.int64)
        self.time_step = np.zeros(rows)
        self.time_gap = np.zeros(rows, dtype=bool)
        self.suspect = np.zeros(rows, dtype=bool)

    @property
    def capacity(self) -> int:
        return int(self.values.shape[0])

    def append(self, **columns: npt.NDArray[Any]) -> None:
        count = next(iter(columns.values())).shape[0]
        end = self.fill + count
        for name, column in columns.items():
            getattr(self, name)[self.fill : end] = column
        self.fill = end

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"fill": self.fill}
        for name in self._FIELDS:
            state[name] = encode_array(getattr(self, name)[: self.fill])
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any], rows: int, n_signals: int) -> _BlockBuffer:
        buffer = cls(rows, n_signals)
        buffer.fill = int(state["fill"])
        for name in cls._FIELDS:
            getattr(buffer, name)[: buffer.fill] = decode_array(state[name])
        return buffer


class StreamingAnomalyDetector:
    """Online anomaly detector for the signals of one machine.

    Feed rows in time order with update(); keep the detector (or its to_state())
    per machine. One signal works too (a univariate detector).
    """

    def __init__(self, signal_names: Sequence[str], config: DetectorConfig | None = None) -> None:
        names = tuple(str(name) for name in signal_names)
        if not names:
            raise ValueError("a detector needs at least one signal")
        if len(set(names)) != len(names):
            raise ValueError("signal names must be unique")
        self.signal_names = names
        self.config = config or DetectorConfig()
        self.reset()

    # -- public API ------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything learned (e.g. after maintenance): a fresh detector."""
        n, config = len(self.signal_names), self.config
        self.rows_seen = 0
        self._smoothed = np.zeros(n)
        self._baselines = SignalBaselines(n, config)
        self._deviation = DeviationModel(n, config)
        self._stuck = StuckSensorMonitor(n, config)
        self._time = TimeStepMonitor(config)
        self._latch = AlarmLatch(config)
        self._block = _BlockBuffer(config.block_rows, n)

    @property
    def warming_up(self) -> bool:
        return self.rows_seen < self.config.warmup_rows

    def update(self, timestamps: npt.ArrayLike, values: npt.ArrayLike) -> DetectionResult:
        """Score a batch of rows (oldest first) and learn from them.

        timestamps: int64 milliseconds, shape (n_rows,); need not be increasing.
        values: float64, shape (n_rows, n_signals) in signal_names order; NaN or inf
        marks a missing value.
        """
        stamps, table = self._validated(timestamps, values)
        # What needs nothing learned goes over the whole batch at once; the blocks
        # then take their rows of it.
        present = np.isfinite(table) & (np.abs(table) <= MAX_ABS_VALUE)
        runs = self._stuck.observe(table, present)
        steps = self._time.observe(stamps)
        pieces: list[dict[str, npt.NDArray[Any]]] = []
        start = 0
        while start < table.shape[0]:
            room = self._block.capacity - self._block.fill
            stop = min(start + room, table.shape[0])
            rows = slice(start, stop)
            pieces.append(
                self._process_segment(
                    table[rows],
                    present=present[rows],
                    runs=RepeatRuns(runs.run[rows], runs.observed[rows], runs.changed[rows]),
                    steps=steps[rows],
                )
            )
            if self._block.fill == self._block.capacity:
                self._learn_block()
            start = stop
        return self._assemble(stamps, pieces)

    def to_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this detector is (JSON-able)."""
        return {
            "version": STATE_FORMAT_VERSION,
            "config": self.config.to_dict(),
            "signal_names": list(self.signal_names),
            "rows_seen": self.rows_seen,
            "smoothed": encode_array(self._smoothed),
            "baselines": self._baselines.to_state(),
            "deviation": self._deviation.to_state(),
            "stuck": self._stuck.to_state(),
            "time": self._time.to_state(),
            "latch": self._latch.to_state(),
            "block": self._block.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> StreamingAnomalyDetector:
        if state.get("version") != STATE_FORMAT_VERSION:
            raise ValueError(f"unsupported detector state version: {state.get('version')!r}")
        config = DetectorConfig.from_dict(state["config"])
        detector = cls(state["signal_names"], config)
        n = len(detector.signal_names)
        detector.rows_seen = int(state["rows_seen"])
        detector._smoothed = decode_array(state["smoothed"])
        detector._baselines = SignalBaselines.from_state(state["baselines"], config)
        detector._deviation = DeviationModel.from_state(state["deviation"], config)
        detector._stuck = StuckSensorMonitor.from_state(state["stuck"], config)
        detector._time = TimeStepMonitor.from_state(state["time"], config)
        detector._latch = AlarmLatch.from_state(state["latch"], config)
        detector._block = _BlockBuffer.from_state(state["block"], config.block_rows, n)
        return detector

    # -- internals -------------------------------------------------------------

    def _validated(
        self, timestamps: npt.ArrayLike, values: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int64], FloatArray]:
        stamps = np.asarray(timestamps)
        if stamps.ndim != 1 or not (
            np.issubdtype(stamps.dtype, np.integer) or stamps.shape[0] == 0
        ):
            raise ValueError("timestamps must be a 1-D array of integer milliseconds")
        table = np.array(values, dtype=np.float64, order="C", copy=True)
        if table.ndim == 1 and len(self.signal_names) == 1:
            table = table.reshape(-1, 1)
        if table.ndim != 2 or table.shape[1] != len(self.signal_names):
            raise ValueError(
                f"values must have shape (n_rows, {len(self.signal_names)}), got {table.shape}"
            )
        if table.shape[0] != stamps.shape[0]:
            raise ValueError("timestamps and values must have the same number of rows")
        return stamps.astype(np.int64), table

    def _process_segment(
        self, values: FloatArray, *, present: BoolArray, runs: RepeatRuns, steps: FloatArray
    ) -> dict[str, npt.NDArray[Any]]:
        """Score rows that all fall inside the current block."""
        config = self.config
        n_rows = values.shape[0]
        row_index = self.rows_seen + np.arange(n_rows, dtype=np.int64)
        stuck = self._stuck.stuck_cells(runs.run, present)
        gap = self._time.gaps(steps)
        backwards = steps < 0.0

        deviation = self._baselines.standardize(values, present)
        smoothed, self._smoothed = ewma_rows(
            deviation, present, self._smoothed, config.smoothing_span_rows
        )
        scores = self._deviation.score(smoothed)

        warming_up = row_index < config.warmup_rows
        score = np.where(warming_up, 0.0, scores.score)
        flagged = self._latch.step(score, enabled=~warming_up)
        # Rows learned as anomalous: the flagged ones and, if configured, any row
        # scoring above learning_gate_score even before the flag is raised.
        suspect = flagged
        if config.learning_gate_score is not None:
            suspect = flagged | (~warming_up & (scores.score >= config.learning_gate_score))

        quality = np.zeros(n_rows, dtype=np.uint16)
        any_missing = ~present.all(axis=1)
        for mask, flag in (
            (warming_up, QualityFlag.WARMING_UP),
            (any_missing, QualityFlag.MISSING_VALUES),
            (~present.any(axis=1), QualityFlag.ALL_MISSING),
            (stuck.any(axis=1), QualityFlag.STUCK_SENSOR),
            (gap, QualityFlag.TIME_GAP),
            (backwards, QualityFlag.TIME_BACKWARDS),
        ):
            quality[mask] |= np.uint16(flag)

        self._block.append(
            values=values,
            present=present,
            stuck=stuck,
            observed=runs.observed,
            changed=runs.changed,
            smoothed=smoothed,
            row_index=row_index,
            time_step=steps,
            time_gap=gap,
            suspect=suspect,
        )
        self.rows_seen += n_rows
        return {
            "score": score,
            "is_anomaly": flagged,
            "signal_scores": scores.signal_scores,
            "contributions": scores.contributions,
            "ranking": scores.ranking_key(),
            "multivariate_decides": scores.multivariate > scores.univariate,
            "quality": quality,
            "stuck": stuck,
            "missing": ~present,
        }

    def _learn_block(self) -> None:
        config, block = self.config, self._block
        usable_cells = block.present & ~block.stuck
        level_weight = np.where(block.suspect, config.anomalous_row_weight, 1.0)[:, None]
        spread_weight = np.where(block.suspect, config.anomalous_row_spread_weight, 1.0)[:, None]
        self._baselines.learn(
            block.values, level_weight * usable_cells, spread_weight * usable_cells
        )
        deviation_start = int(config.warmup_rows * _DEVIATION_LEARNING_START_SHARE)
        complete_rows = block.present.all(axis=1) & (block.row_index >= deviation_start)
        # The deviation covariance learns from normal rows only: anomalous rows
        # would teach it that large smoothed deviations are ordinary.
        self._deviation.learn(block.smoothed, (~block.suspect & complete_rows).astype(np.float64))

        self._stuck.learn(block.observed, block.changed, block.stuck)
        self._time.learn(block.time_step, block.time_gap)
        block.fill = 0

    def _assemble(
        self, stamps: npt.NDArray[np.int64], pieces: list[dict[str, npt.NDArray[Any]]]
    ) -> DetectionResult:
        n = len(self.signal_names)

        def joined(name: str, empty: npt.NDArray[Any]) -> npt.NDArray[Any]:
            return np.concatenate([p[name] for p in pieces]) if pieces else empty

        ranking = joined("ranking", np.zeros((0, n)))
        return DetectionResult(
            signal_names=self.signal_names,
            timestamps=stamps,
            score=joined("score", np.zeros(0)),
            is_anomaly=joined("is_anomaly", np.zeros(0, bool)),
            signal_scores=joined("signal_scores", np.zeros((0, n))),
            contributions=joined("contributions", np.zeros((0, n))),
            multivariate_decides=joined("multivariate_decides", np.zeros(0, bool)),
            top_signals=top_signal_indices(ranking, self.config.top_signals),
            quality=joined("quality", np.zeros(0, np.uint16)),
            stuck=joined("stuck", np.zeros((0, n), bool)),
            missing=joined("missing", np.zeros((0, n), bool)),
        )
