"""Detection of anomalies on synthetic correlated signals."""

from __future__ import annotations

import numpy as np
import pytest

from imcloud_products.domain.anomaly import DetectorConfig, StreamingAnomalyDetector

SIGNALS = ("motor_current", "flow", "pressure", "temperature", "vibration", "voltage")


# Share of normal rows that may be flagged: the default threshold (about 3.5
# standard deviations, on the largest of several statistics) lets a few through.
FALSE_ALARM_BUDGET = 0.02


def correlated_machine(rows: int = 3000, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Signals driven by a shared load, plus noise; the last two are independent."""
    rng = np.random.default_rng(seed)
    load = np.convolve(rng.normal(size=rows + 50), np.ones(50) / 50, mode="valid")[:rows]
    load = load / load.std()
    values = np.column_stack(
        [
            5.0 + 1.0 * load + rng.normal(scale=0.3, size=rows),
            120.0 + 8.0 * load + rng.normal(scale=2.0, size=rows),
            2.0 + 0.2 * load + rng.normal(scale=0.05, size=rows),
            60.0 + np.cumsum(rng.normal(scale=0.01, size=rows)) + 0.5 * load,
            rng.gamma(4.0, 0.05, size=rows),
            230.0 + rng.normal(scale=3.0, size=rows),
        ]
    )
    stamps = np.arange(rows, dtype=np.int64) * 1000
    return stamps, values


@pytest.fixture(scope="module")
def machine() -> tuple[np.ndarray, np.ndarray]:
    return correlated_machine()


def test_normal_running_raises_few_alarms(machine) -> None:
    stamps, values = machine
    result = StreamingAnomalyDetector(SIGNALS).update(stamps, values)
    assert result.is_anomaly.mean() < FALSE_ALARM_BUDGET
    assert np.median(result.score[400:]) < 3.0


@pytest.mark.parametrize("signal", [1, 2, 4])
def test_step_anomaly_is_detected_with_the_right_top_signal(machine, signal: int) -> None:
    stamps, values = machine
    values = values.copy()
    step = slice(2000, 2300)
    values[step, signal] += 6.0 * values[400:2000, signal].std()
    result = StreamingAnomalyDetector(SIGNALS).update(stamps, values)

    flagged = result.is_anomaly[step]
    assert flagged.mean() > 0.8
    assert flagged[:30].any(), "detected within 30 rows"
    assert result.is_anomaly[400:2000].mean() < FALSE_ALARM_BUDGET
    flagged_rows = np.flatnonzero(result.is_anomaly[step]) + step.start
    top = result.top_signals[flagged_rows, 0]
    assert np.mean(top == signal) > 0.9
    assert result.top_signal_names(int(flagged_rows[0]))[0] == SIGNALS[signal]


def test_broken_correlation_is_caught_by_the_multivariate_part(machine) -> None:
    """Flow stops following the load while staying inside its usual range.

    No signal leaves its own range, so only the multivariate statistic can see it.
    The signals here are coupled almost perfectly, which the default shrinkage
    (chosen on SKAB) partly hides; a machine like this wants a smaller one.
    """
    stamps, values = machine
    values = values.copy()
    window = slice(2000, 2300)
    values[window, 1] = 120.0 - 8.0 * (values[window, 0] - 5.0)  # moves against the load
    config = DetectorConfig(correlation_shrinkage=0.02)
    result = StreamingAnomalyDetector(SIGNALS, config).update(stamps, values)
    assert result.is_anomaly[window].mean() > 0.5
    assert result.is_anomaly[400:2000].mean() < FALSE_ALARM_BUDGET
    flagged = np.flatnonzero(result.is_anomaly[window]) + window.start
    assert (result.multivariate_decides[flagged]).mean() > 0.8
    top_two = {SIGNALS[i] for i in result.top_signals[flagged[len(flagged) // 2], :2]}
    assert "flow" in top_two


def test_flag_clears_after_the_anomaly_ends(machine) -> None:
    stamps, values = machine
    values = values.copy()
    values[2000:2200, 2] += 1.5
    result = StreamingAnomalyDetector(SIGNALS).update(stamps, values)
    assert result.is_anomaly[2000:2200].mean() > 0.8
    assert not result.is_anomaly[2220:2300].any(), "cleared within 20 rows"
    assert result.is_anomaly[2300:].mean() < FALSE_ALARM_BUDGET


def test_a_lasting_new_regime_eventually_becomes_normal() -> None:
    stamps, values = correlated_machine(rows=8000)
    values[1500:, 4] += 1.0  # a permanent 10-sigma change, e.g. a new bearing
    result = StreamingAnomalyDetector(SIGNALS).update(stamps, values)
    assert result.is_anomaly[1500:1600].all()
    # Flagged rows still teach the model a little, so the alarm ends by itself
    # (reset() is the way to accept a known change at once).
    assert not result.is_anomaly[-1000:].any()


def test_single_signal_detector(machine) -> None:
    stamps, values = machine
    series = values[:, 5].copy()
    series[2000:2100] += 5.0 * series[:2000].std()
    detector = StreamingAnomalyDetector(["voltage"], DetectorConfig(warmup_rows=300))
    result = detector.update(stamps, series)
    assert result.is_anomaly[2000:2100].mean() > 0.8
    assert result.is_anomaly[300:2000].mean() < FALSE_ALARM_BUDGET
    assert result.top_signal_names(2050) == ["voltage"]


def test_bad_input_shapes_are_rejected() -> None:
    detector = StreamingAnomalyDetector(SIGNALS)
    with pytest.raises(ValueError, match="shape"):
        detector.update(np.arange(3, dtype=np.int64), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="same number of rows"):
        detector.update(np.arange(3, dtype=np.int64), np.zeros((4, len(SIGNALS))))
    with pytest.raises(ValueError, match="integer milliseconds"):
        detector.update(np.array([0.5, 1.5]), np.zeros((2, len(SIGNALS))))
