"""Exponential weighting shared by the per-signal and multivariate models."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def blend_rate(
    half_life_rows: float, new_weight: FloatArray, weight_seen: FloatArray
) -> FloatArray:
    """How far to move an estimate towards the mean of newly learned rows.

    With a per-row exponential forgetting of the given half-life, rows of total
    weight w move the estimate by 1 - 0.5 ** (w / half_life). At the start of a
    stream that would over-weight the arbitrary initial value, so the rate is at
    least w / (seen + w): the plain running mean until enough rows have been seen.
    """
    forgetting = 1.0 - np.power(0.5, new_weight / half_life_rows)
    total = weight_seen + new_weight
    running_mean = np.divide(new_weight, total, out=np.zeros_like(total), where=total > 0.0)
    return np.maximum(forgetting, running_mean)


def ewma_rows(
    inputs: FloatArray, present: npt.NDArray[np.bool_], start: FloatArray, span_rows: float
) -> tuple[FloatArray, FloatArray]:
    """Exponentially smooth each column of `inputs`, row by row.

    A missing cell (present is False) leaves that column's smoothed value unchanged.
    Returns the smoothed rows and the last smoothed row (the carry for the next call).

    The loop runs over rows with vector operations over columns: the arithmetic for a
    row is the same however the stream was cut into calls, which is what makes
    results independent of batch sizes.
    """
    weight = 2.0 / (span_rows + 1.0)
    step = np.where(present, weight, 0.0)
    clean_inputs = np.where(present, inputs, 0.0)
    smoothed = np.empty_like(clean_inputs)
    current = start.copy()
    for row in range(clean_inputs.shape[0]):
        current = current + step[row] * (clean_inputs[row] - current)
        smoothed[row] = current
    return smoothed, current
