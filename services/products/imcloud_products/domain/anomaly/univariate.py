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

    def learn(self, values: FloatArray, weights: FloatArray) -> None:
        """Blend in one block of rows; `weights` (rows x signals) is 0 for cells to ignore."""
        block_weight = weights.sum(axis=0)
        has_data = block_weight > 0.0
        if not has_data.any():
            return
        safe_weight = np.where(has_data, block_weight, 1.0)
        clean_values = np.where(weights > 0.0, values, 0.0)
        block_mean = (weights * clean_values).sum(axis=0) / safe_weight

        level_rate = blend_rate(
            self._config.baseline_half_life_rows, block_weight, self.level_weight_seen
        )
        self.level = np.where(
            has_data, self.level + level_rate * (block_mean - self.level), self.level
        )
        self.level_weight_seen = self.level_weight_seen + block_weight

        residual = np.where(weights > 0.0, clean_values - self.level, 0.0)
        block_mean_square = (weights * residual * residual).sum(axis=0) / safe_weight
        variance_rate = blend_rate(
            self._config.scale_half_life_rows, block_weight, self.variance_weight_seen
        )
        self.variance = np.where(
            has_data,
            self.variance + variance_rate * (block_mean_square - self.variance),
            self.variance,
        )
        self.variance_weight_seen = self.variance_weight_seen + block_weight

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
