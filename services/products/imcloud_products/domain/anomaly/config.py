"""Detector configuration.

Every duration is counted in rows (samples of the machine's stream), not in time,
so the model does not depend on clock quirks (steps back, gaps); the values below
suit telemetry sampled about once a second. Episodes use real time instead
(see episodes.py), because operators think in minutes.

The defaults were chosen on the SKAB benchmark (1 Hz pump telemetry): the design
was iterated on all 30 labelled files, the numbers were picked from a grid on the
14 "other" files and checked on the 16 "valve1" files (see evaluation/skab.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class DetectorConfig:
    # -- learning ------------------------------------------------------------
    # Rows learned from before any anomaly can be flagged.
    warmup_rows: int = 400
    # The model is refreshed once per block of this many rows (counted from the
    # start of the stream, so block edges do not depend on how rows are batched).
    block_rows: int = 16
    # Half-life of the per-signal baseline (the "normal level"). Slow drift is
    # followed; faster changes are reported.
    baseline_half_life_rows: float = 100.0
    # Half-life of the per-signal spread around that baseline.
    scale_half_life_rows: float = 600.0
    # Half-life of the covariance of the smoothed deviations (the multivariate model).
    deviation_half_life_rows: float = 600.0
    # Rows flagged as anomalous still teach the model, with these weights (0 would
    # freeze it): a lasting change of regime slowly becomes the new normal instead
    # of alarming forever, while a passing anomaly barely moves the model.
    anomalous_row_weight: float = 0.02  # for the level
    anomalous_row_spread_weight: float = 0.2  # for each signal's spread
    # Rows scoring at least this are learned like flagged rows even when the flag
    # is not (yet, or no longer) raised. None: only flagged rows (best on SKAB).
    learning_gate_score: float | None = None

    # -- scoring -------------------------------------------------------------
    # Span of the exponential smoothing of each signal's standardised deviation
    # (a multivariate EWMA control chart).
    smoothing_span_rows: float = 10.0
    # Shrinkage of the deviation correlation matrix towards the identity:
    # 1.0 treats signals as independent, 0.0 uses the full correlation.
    correlation_shrinkage: float = 0.2
    # Standardised deviations are clipped to this magnitude before smoothing, so
    # that one wild reading cannot dominate for long.
    max_abs_deviation: float = 10.0
    # Smallest spread of a signal relative to its level; protects signals that
    # were constant while learning.
    relative_scale_floor: float = 1e-6

    # -- alarm latch (hysteresis on the machine score) -----------------------
    # The machine score is a squared standard-normal deviate (about 1 in normal
    # running): 14 is about 3.7 standard deviations.
    threshold_on: float = 14.0
    threshold_off: float = 8.0
    # Consecutive rows at/above threshold_on needed to raise the flag.
    rows_to_raise: int = 1
    # Consecutive rows below threshold_off needed to clear it.
    rows_to_clear: int = 1
    # How many contributing signals to report per row.
    top_signals: int = 3

    # -- data quality ---------------------------------------------------------
    # A signal is stuck when it repeats its value for at least stuck_min_rows rows
    # and a run that long would be this improbable given how often it normally
    # changes.
    stuck_min_rows: int = 60
    stuck_improbability: float = 1e-9
    change_rate_half_life_rows: float = 2000.0
    # A time step longer than this many times the usual step is a gap.
    gap_factor: float = 10.0

    def __post_init__(self) -> None:
        positive_ints = ("warmup_rows", "block_rows", "rows_to_raise", "rows_to_clear")
        for name in positive_ints:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.top_signals < 0:
            raise ValueError("top_signals must not be negative")
        if self.stuck_min_rows < 2:
            raise ValueError("stuck_min_rows must be at least 2")
        positive_floats = (
            "baseline_half_life_rows",
            "scale_half_life_rows",
            "deviation_half_life_rows",
            "smoothing_span_rows",
            "max_abs_deviation",
            "change_rate_half_life_rows",
            "gap_factor",
        )
        for name in positive_floats:
            if not float(getattr(self, name)) > 0.0:
                raise ValueError(f"{name} must be positive")
        for name in ("anomalous_row_weight", "anomalous_row_spread_weight"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
        if not 0.0 <= self.correlation_shrinkage <= 1.0:
            raise ValueError("correlation_shrinkage must be within [0, 1]")
        if not 0.0 < self.stuck_improbability < 1.0:
            raise ValueError("stuck_improbability must be within (0, 1)")
        if self.threshold_off > self.threshold_on:
            raise ValueError("threshold_off must not exceed threshold_on")
        if self.learning_gate_score is not None and not self.learning_gate_score > 0.0:
            raise ValueError("learning_gate_score must be positive (or None)")
        if self.relative_scale_floor < 0.0:
            raise ValueError("relative_scale_floor must not be negative")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown detector settings: {sorted(unknown)}")
        return cls(**data)
