"""Per-machine (multivariate) model: a multivariate EWMA chart (MEWMA, Lowry 1992).

Input: each signal's smoothed standardised deviation from its baseline. The model
learns the covariance of these smoothed deviations during normal running and
scores a row by the Mahalanobis distance of its deviation vector, divided by the
number of signals so that normal running scores about 1 on any machine.

The correlation matrix is shrunk towards the identity: with few rows to learn
from, a full inverse would over-react to directions that were merely quiet while
learning. Shrinkage 1 treats the signals as independent (a sum of per-signal
charts); shrinkage 0 is the plain MEWMA statistic, close to PCA's T^2 + Q.

Each signal's contribution z_j * (R^-1 z)_j / n sums to the machine score, which
is what ranks the top contributing signals.
"""

from __future__ import annotations

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

# Variance of the smoothed deviation never goes below this share of the value
# expected for independent unit-variance rows, so a signal that was flat while
# learning does not divide by zero.
_VARIANCE_FLOOR_SHARE = 0.01


def row_sums(columns: FloatArray) -> FloatArray:
    """Sum each row, always adding columns in the same order.

    Written out (not ndarray.sum) so that a row's result cannot depend on how many
    rows are summed together: batch-size invariance relies on it.
    """
    total = columns[:, 0].copy()
    for column in range(1, columns.shape[1]):
        total += columns[:, column]
    return total


class DeviationModel:
    """Covariance of smoothed deviations, and the machine score built from it."""

    def __init__(self, n_signals: int, config: DetectorConfig) -> None:
        self._config = config
        smoothing_weight = 2.0 / (config.smoothing_span_rows + 1.0)
        self._independent_variance = smoothing_weight / (2.0 - smoothing_weight)
        self.second_moment = np.eye(n_signals) * self._independent_variance
        self.weight_seen = 0.0
        self._refresh()

    def _refresh(self) -> None:
        variance = np.maximum(
            np.diag(self.second_moment), _VARIANCE_FLOOR_SHARE * self._independent_variance
        )
        self._inverse_sd = 1.0 / np.sqrt(variance)
        n = self.second_moment.shape[0]
        shrinkage = self._config.correlation_shrinkage
        if shrinkage >= 1.0:
            self._inverse_correlation: FloatArray | None = None
            return
        correlation = self.second_moment * np.outer(self._inverse_sd, self._inverse_sd)
        np.fill_diagonal(correlation, 1.0)
        shrunk = (1.0 - shrinkage) * correlation + shrinkage * np.eye(n)
        self._inverse_correlation = np.linalg.inv(shrunk)

    def score(self, smoothed_deviation: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Score rows of smoothed deviations.

        Returns (machine score per row, per-signal univariate score z_j^2,
        per-signal contribution to the machine score).
        """
        standardized = smoothed_deviation * self._inverse_sd
        n = standardized.shape[1]
        if self._inverse_correlation is None:
            whitened = standardized
        else:
            # Matrix product written out row-order independent (see row_sums).
            whitened = standardized[:, :1] * self._inverse_correlation[0]
            for k in range(1, n):
                whitened = whitened + standardized[:, k : k + 1] * self._inverse_correlation[k]
        contributions = standardized * whitened / n
        return row_sums(contributions), standardized * standardized, contributions

    def learn(self, smoothed_deviation: FloatArray, row_weights: FloatArray) -> None:
        block_weight = float(row_weights.sum())
        if block_weight <= 0.0:
            return
        weighted = smoothed_deviation * row_weights[:, None]
        block_moment = (weighted.T @ smoothed_deviation) / block_weight
        rate = float(
            blend_rate(
                self._config.deviation_half_life_rows,
                np.array([block_weight]),
                np.array([self.weight_seen]),
            )[0]
        )
        self.second_moment = self.second_moment + rate * (block_moment - self.second_moment)
        self.weight_seen += block_weight
        self._refresh()

    def to_state(self) -> dict[str, Any]:
        return {
            "second_moment": encode_array(self.second_moment),
            "weight_seen": encode_float(self.weight_seen),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], config: DetectorConfig) -> DeviationModel:
        second_moment = decode_array(state["second_moment"])
        model = cls(second_moment.shape[0], config)
        model.second_moment = second_moment
        model.weight_seen = decode_float(state["weight_seen"])
        model._refresh()
        return model


def top_signal_indices(contributions: FloatArray, count: int) -> npt.NDArray[np.int16]:
    """Indices of the `count` largest positive contributions per row, -1 where fewer."""
    n_rows, n_signals = contributions.shape
    count = min(count, n_signals)
    result = np.full((n_rows, count), -1, dtype=np.int16)
    if count == 0 or n_rows == 0:
        return result
    # A stable sort on the negated values keeps ties in signal order: deterministic.
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :count]
    chosen = np.take_along_axis(contributions, order, axis=1)
    result[:] = np.where(chosen > 0.0, order, -1)
    return result
