"""Per-machine (multivariate) model: a multivariate EWMA chart (MEWMA, Lowry 1992).

Input: each signal's smoothed standardised deviation from its baseline. The model
learns the covariance of these smoothed deviations during normal running, and a
row gets two scores on the same scale (a squared standard-normal deviate, about
1 in normal running):
- univariate: the largest single-signal chart statistic z_j^2 (catches a change
  in one signal, which a statistic over all signals would dilute);
- multivariate: the Mahalanobis statistic T^2 of the whole vector, which also
  catches changes in how signals move together, mapped to the same scale.
The machine score is the larger of the two.

The correlation matrix is shrunk towards the identity: with few rows to learn
from, a full inverse would over-react to directions that were merely quiet while
learning. Shrinkage 1 treats the signals as independent (a sum of per-signal
charts); shrinkage 0 is the plain MEWMA statistic, close to PCA's T^2 + Q.

Top contributing signals are ranked by z_j^2 when the univariate part decides the
score, else by each signal's share z_j * (R^-1 z)_j of T^2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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


@dataclass(frozen=True)
class DeviationScores:
    """Scores of a batch of rows.

    score: the machine score, max(univariate, multivariate).
    univariate: the largest per-signal score (the most deviating signal's chart).
    multivariate: the Mahalanobis statistic T^2 of the whole deviation vector,
        expressed as the squared standard-normal deviate with the same chi-square
        tail probability (Wilson-Hilferty), so it is on the same scale as a single
        signal's score whatever the number of signals.
    signal_scores: z_j^2, each signal's squared standardised smoothed deviation.
    contributions: z_j * (R^-1 z)_j, each signal's share of T^2 (they sum to it).
    """

    score: FloatArray
    univariate: FloatArray
    multivariate: FloatArray
    signal_scores: FloatArray
    contributions: FloatArray

    def ranking_key(self) -> FloatArray:
        """Per row, what ranks the signals: the part of the score that decided it."""
        univariate_decides = (self.multivariate <= self.univariate)[:, None]
        return np.where(univariate_decides, self.signal_scores, self.contributions)


def equivalent_squared_deviate(t_squared: FloatArray, degrees: int) -> FloatArray:
    """Map a chi-square(degrees) statistic to the squared N(0,1) deviate of equal tail.

    Wilson-Hilferty: (X / k) ** (1/3) is about normal with mean 1 - 2 / (9k) and
    variance 2 / (9k). Statistics below their median map to 0.
    """
    spread = 2.0 / (9.0 * degrees)
    cube_root = np.cbrt(np.maximum(t_squared, 0.0) / degrees)
    deviate = np.maximum((cube_root - (1.0 - spread)) / math.sqrt(spread), 0.0)
    return deviate * deviate


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
        self._inverse_correlation = np.linalg.inv(shrunk).astype(np.float64)

    def score(self, smoothed_deviation: FloatArray) -> DeviationScores:
        """Score rows of smoothed deviations (see DeviationScores)."""
        standardized = smoothed_deviation * self._inverse_sd
        n = standardized.shape[1]
        if self._inverse_correlation is None:
            whitened = standardized
        else:
            # Matrix product written out row-order independent (see row_sums).
            whitened = standardized[:, :1] * self._inverse_correlation[0]
            for k in range(1, n):
                whitened = whitened + standardized[:, k : k + 1] * self._inverse_correlation[k]
        contributions = standardized * whitened
        signal_scores = standardized * standardized
        univariate = signal_scores.max(axis=1)
        multivariate = equivalent_squared_deviate(row_sums(contributions), n)
        return DeviationScores(
            score=np.maximum(univariate, multivariate),
            univariate=univariate,
            multivariate=multivariate,
            signal_scores=signal_scores,
            contributions=contributions,
        )

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
