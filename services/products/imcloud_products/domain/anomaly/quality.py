"""Data-quality checks: missing values, stuck sensors, irregular time steps.

A data-quality issue is reported per row as a bit set (QualityFlag) and is never
an anomaly of the process by itself. Cells with an issue are kept out of the
learning, so bad data cannot teach the model that bad data is normal.

Decisions:
- NaN, +-inf and absurd magnitudes (> 1e100) are "missing": the cell is ignored
  (its signal's smoothed deviation keeps its last value) and the row is marked
  MISSING_VALUES.
- A stuck sensor is a signal that repeats exactly the same value for longer than
  its own history makes plausible (see StuckSensorMonitor). Its cells are still
  scored, so a sensor frozen at an abnormal value still raises an anomaly, but
  they are not learned from: otherwise the signal's spread would shrink towards
  zero and every later movement would look anomalous.
- Time gaps and steps backwards are only reported (disconnections are detected
  elsewhere); the model counts rows, not time, so they cannot disturb it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntFlag
from typing import Any

import numpy as np
import numpy.typing as npt

from imcloud_products.domain.anomaly.config import DetectorConfig
from imcloud_products.domain.anomaly.serialization import (
    decode_array,
    decode_float,
    encode_array,
    encode_float,
)
from imcloud_products.domain.anomaly.smoothing import FloatArray, blend_rate

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

# The usual time step is followed with this half-life (rows).
_TIME_STEP_HALF_LIFE_ROWS = 100.0
# Steps needed before gaps are judged.
_TIME_STEPS_BEFORE_JUDGING = 10


class QualityFlag(IntFlag):
    NONE = 0
    WARMING_UP = 1  # the model is still learning; no anomaly can be flagged
    MISSING_VALUES = 2  # at least one cell is NaN, infinite or absurdly large
    ALL_MISSING = 4  # no usable value in the row
    STUCK_SENSOR = 8  # at least one signal repeats one value implausibly long
    TIME_GAP = 16  # the step from the previous row is much longer than usual
    TIME_BACKWARDS = 32  # the timestamp is earlier than the previous row's

    @classmethod
    def data_quality_issues(cls) -> QualityFlag:
        """Flags that are problems with the data (WARMING_UP is not one)."""
        return (
            cls.MISSING_VALUES
            | cls.ALL_MISSING
            | cls.STUCK_SENSOR
            | cls.TIME_GAP
            | (cls.TIME_BACKWARDS)
        )


@dataclass(frozen=True)
class RepeatRuns:
    """Per cell: exact repeats in a row so far, and whether the reading could be
    compared with a previous one (observed) and differed from it (changed)."""

    run: IntArray
    observed: BoolArray
    changed: BoolArray


class StuckSensorMonitor:
    """Counts exact repeats per signal and learns how often each signal changes.

    If a signal normally changes between consecutive readings with probability p,
    a run of L repeats has probability about (1 - p) ** L. The signal is stuck once
    that falls below config.stuck_improbability and L >= config.stuck_min_rows. A
    signal that hardly ever changes (a set-point, a counter at rest) gets a very
    long limit and so is practically never called stuck.
    """

    def __init__(self, n_signals: int, config: DetectorConfig) -> None:
        self._config = config
        self.last_value = np.full(n_signals, np.nan)
        self.repeat_run = np.zeros(n_signals, dtype=np.int64)
        self.change_rate = np.zeros(n_signals)
        self.weight_seen = np.zeros(n_signals)

    def repeat_limit(self) -> FloatArray:
        """Repeats after which each signal counts as stuck (inf: never)."""
        limits = np.full(self.change_rate.shape, np.inf)
        log_improbability = math.log(self._config.stuck_improbability)
        for signal, rate in enumerate(self.change_rate.tolist()):
            if self.weight_seen[signal] < self._config.stuck_min_rows or rate <= 0.0:
                continue  # not enough history, or a signal that never changes
            needed = 0 if rate >= 1.0 else math.ceil(log_improbability / math.log1p(-rate))
            limits[signal] = max(self._config.stuck_min_rows, needed)
        return limits

    def observe(self, values: FloatArray, finite: BoolArray) -> RepeatRuns:
        """Advance over rows; return each cell's repeat run and change masks.

        Nothing here depends on what is learned, so a whole batch goes through in
        one pass; which runs count as stuck is decided per block (stuck_cells), with
        the limits learned up to that block.
        """
        n_rows, n_signals = values.shape
        row_index = np.arange(n_rows)[:, None]
        # Row of the last finite reading at or before each row (-1: none in this call).
        last_finite_row = np.maximum.accumulate(np.where(finite, row_index, -1), axis=0)
        previous_row = np.vstack([np.full((1, n_signals), -1), last_finite_row[:-1]])
        columns = np.broadcast_to(np.arange(n_signals), (n_rows, n_signals))
        previous_value = np.where(
            previous_row >= 0,
            values[np.maximum(previous_row, 0), columns],
            self.last_value,
        )
        observed = finite & np.isfinite(previous_value)
        repeated = observed & (values == previous_value)
        changed = observed & ~repeated

        repeats_so_far = np.cumsum(repeated, axis=0)
        # A finite reading that is not a repeat starts a new run.
        run_start_row = np.maximum.accumulate(np.where(finite & ~repeated, row_index, -1), axis=0)
        repeats_at_start = np.where(
            run_start_row >= 0, repeats_so_far[np.maximum(run_start_row, 0), columns], 0
        )
        run = np.where(
            run_start_row >= 0, repeats_so_far - repeats_at_start, self.repeat_run + repeats_so_far
        )

        if n_rows:
            self.repeat_run = run[-1].astype(np.int64)
            last_row = last_finite_row[-1]
            self.last_value = np.where(
                last_row >= 0,
                values[np.maximum(last_row, 0), np.arange(n_signals)],
                self.last_value,
            )
        return RepeatRuns(run=run, observed=observed, changed=changed)

    def stuck_cells(self, runs: IntArray, finite: BoolArray) -> BoolArray:
        """Cells whose repeat run reached its signal's limit as learned so far."""
        return finite & (runs >= self.repeat_limit())

    def learn(self, observed: BoolArray, changed: BoolArray, stuck: BoolArray) -> None:
        """Learn the change rate from one block, leaving stuck cells out."""
        weights = (observed & ~stuck).astype(np.float64)
        block_weight = weights.sum(axis=0)
        has_data = block_weight > 0.0
        if not has_data.any():
            return
        block_rate = (weights * changed).sum(axis=0) / np.where(has_data, block_weight, 1.0)
        rate = blend_rate(self._config.change_rate_half_life_rows, block_weight, self.weight_seen)
        self.change_rate = np.where(
            has_data, self.change_rate + rate * (block_rate - self.change_rate), self.change_rate
        )
        self.weight_seen = self.weight_seen + block_weight

    def to_state(self) -> dict[str, Any]:
        return {
            "last_value": encode_array(self.last_value),
            "repeat_run": encode_array(self.repeat_run),
            "change_rate": encode_array(self.change_rate),
            "weight_seen": encode_array(self.weight_seen),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], config: DetectorConfig) -> StuckSensorMonitor:
        last_value = decode_array(state["last_value"])
        monitor = cls(last_value.shape[0], config)
        monitor.last_value = last_value
        monitor.repeat_run = decode_array(state["repeat_run"])
        monitor.change_rate = decode_array(state["change_rate"])
        monitor.weight_seen = decode_array(state["weight_seen"])
        return monitor


class TimeStepMonitor:
    """Flags gaps and backward steps in the timestamps; learns the usual step."""

    def __init__(self, config: DetectorConfig) -> None:
        self._config = config
        self.last_timestamp: int | None = None
        self.usual_step_ms = 0.0
        self.steps_seen = 0.0

    def observe(self, timestamps: npt.NDArray[np.int64]) -> FloatArray:
        """Each row's step from the row before, in ms (NaN for the stream's first
        row); negative where time went backwards. A whole batch in one pass."""
        steps = np.empty(timestamps.shape[0])
        if timestamps.shape[0] == 0:
            return steps
        previous = timestamps[0] if self.last_timestamp is None else self.last_timestamp
        steps[:] = np.diff(timestamps, prepend=np.int64(previous)).astype(np.float64)
        if self.last_timestamp is None:
            steps[0] = np.nan
        self.last_timestamp = int(timestamps[-1])
        return steps

    def gaps(self, steps: FloatArray) -> BoolArray:
        """Steps far longer than the step learned so far (none before it is known)."""
        if self.steps_seen >= _TIME_STEPS_BEFORE_JUDGING and self.usual_step_ms > 0.0:
            return steps > self._config.gap_factor * self.usual_step_ms
        return np.zeros(steps.shape, bool)

    def learn(self, steps: FloatArray, gap: BoolArray) -> None:
        usable = np.isfinite(steps) & (steps > 0.0) & ~gap
        count = float(usable.sum())
        if count == 0.0:
            return
        block_mean = float(steps[usable].sum()) / count
        rate = float(
            blend_rate(_TIME_STEP_HALF_LIFE_ROWS, np.array([count]), np.array([self.steps_seen]))[0]
        )
        self.usual_step_ms += rate * (block_mean - self.usual_step_ms)
        self.steps_seen += count

    def to_state(self) -> dict[str, Any]:
        return {
            "last_timestamp": self.last_timestamp,
            "usual_step_ms": encode_float(self.usual_step_ms),
            "steps_seen": encode_float(self.steps_seen),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], config: DetectorConfig) -> TimeStepMonitor:
        monitor = cls(config)
        last = state["last_timestamp"]
        monitor.last_timestamp = None if last is None else int(last)
        monitor.usual_step_ms = decode_float(state["usual_step_ms"])
        monitor.steps_seen = decode_float(state["steps_seen"])
        return monitor
