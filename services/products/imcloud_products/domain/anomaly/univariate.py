"""Per-signal (univariate) model: each signal's normal level and spread.

Each signal is standardised against its own learned baseline. The smoothed
standardised deviation of a signal is a classic EWMA control chart for that
signal alone; the multivariate model (multivariate.py) combines the charts of a
machine's signals, taking their correlation into account.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from imcloud_products.domain.anomaly.config import DetectorConfig
from imcloud_products.domain.anomaly.serialization import decode_array, encode_array
from imcloud_products.domain.anomaly.smoothing import FloatArray, blend_rate

# Spread below which a signal counts as constant, whatever its level.
_ABSOLUTE_SCALE_FLOOR = 1e-12


def _weighted_mean(values: FloatArray, weights: FloatArray, totals: FloatArray) -> FloatArray:
    clean = np.where(weights > 0.0, values, 0.0)
    mean: FloatArray = (weights * clean).sum(axis=0) / np.where(totals > 0.0, totals, 1.0)
    return mean


class SignalBaselines:
    """Exponentially weighted level and spread of every signal of one machine."""

    def __init__(self, n_signals: int, config: DetectorConfig) -> None:
        self._config = config
        self.level = np.zeros(n_signals)
        self.variance = np.zeros(n_signals)
        self.level_weight_seen = np.zeros(n_signals)
        self.variance_weight_seen = np.zeros(n_signals)

    @property
    def learned(self) -> npt.NDArray[np.bool_]:
        """Signals for which at least one value has been learned."""
        return self.level_weight_seen > 0.0

    def scale(self) -> FloatArray:
        floor = self._config.relative_scale_floor * np.abs(self.level) + _ABSOLUTE_SCALE_FLOOR
        return np.sqrt(np.maximum(self.variance, floor * floor))

    def standardize(self, values: FloatArray, present: npt.NDArray[np.bool_]) -> FloatArray:
        """Deviation of each cell from its signal's level, in units of its spread.

        Missing cells and signals never learned give 0. The result is clipped so a
        single absurd reading cannot dominate the smoothed deviation for long.
        """
        usable = present & self.learned
        deviation = np.where(usable, values - self.level, 0.0) / self.scale()
        limit = self._config.max_abs_deviation
        return np.clip(deviation, -limit, limit)

    def learn(
        self, values: FloatArray, level_weights: FloatArray, spread_weights: FloatArray
    ) -> None:
        """Blend in one block of rows (rows x signals weights; 0 ignores a cell).

        The level and the spread take separate weights so that rows flagged as
        anomalous can nudge the level (a lasting change of regime is eventually
        accepted) without inflating the spread as much (which would hide the
        anomaly). For the spread, values are winsorised at max_abs_deviation
        spreads around the level, so one wild reading cannot inflate it. (The level
        is not winsorised: that slows its recovery after a change of regime,
        which cost F1 on SKAB.)
        """
        level_total = level_weights.sum(axis=0)
        has_level_data = level_total > 0.0
        if has_level_data.any():
            level_mean = _weighted_mean(values, level_weights, level_total)
            rate = blend_rate(
                self._config.baseline_half_life_rows, level_total, self.level_weight_seen
            )
            self.level = np.where(
                has_level_data, self.level + rate * (level_mean - self.level), self.level
            )
            self.level_weight_seen = self.level_weight_seen + level_total

        spread_total = spread_weights.sum(axis=0)
        has_spread_data = spread_total > 0.0
        if has_spread_data.any():
            residual = np.where(spread_weights > 0.0, self._winsorized(values) - self.level, 0.0)
            mean_square = _weighted_mean(residual * residual, spread_weights, spread_total)
            rate = blend_rate(
                self._config.scale_half_life_rows, spread_total, self.variance_weight_seen
            )
            self.variance = np.where(
                has_spread_data, self.variance + rate * (mean_square - self.variance), self.variance
            )
            self.variance_weight_seen = self.variance_weight_seen + spread_total

    def _winsorized(self, values: FloatArray) -> FloatArray:
        """Values clipped to max_abs_deviation spreads around the level, once known."""
        known = self.variance_weight_seen > 0.0
        if not known.any():
            return values
        reach = np.where(known, self._config.max_abs_deviation * self.scale(), np.inf)
        return np.clip(values, self.level - reach, self.level + reach)

    def to_state(self) -> dict[str, Any]:
        return {
            "level": encode_array(self.level),
            "variance": encode_array(self.variance),
            "level_weight_seen": encode_array(self.level_weight_seen),
            "variance_weight_seen": encode_array(self.variance_weight_seen),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], config: DetectorConfig) -> SignalBaselines:
        level = decode_array(state["level"])
        baselines = cls(level.shape[0], config)
        baselines.level = level
        baselines.variance = decode_array(state["variance"])
        baselines.level_weight_seen = decode_array(state["level_weight_seen"])
        baselines.variance_weight_seen = decode_array(state["variance_weight_seen"])
        return baselines
