"""Data-quality handling: NaN/inf bursts, stuck sensors, time gaps."""

from __future__ import annotations

import numpy as np

from imcloud_products.domain.anomaly import DetectorConfig, QualityFlag, StreamingAnomalyDetector
from imcloud_products.domain.anomaly.serialization import decode_array

SIGNALS = ("a", "b", "c", "d")
CONFIG = DetectorConfig(warmup_rows=200)


def normal_stream(rows: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=rows).cumsum() * 0.02
    values = np.column_stack(
        [latent + rng.normal(scale=0.5, size=rows) + 10 * k for k in range(len(SIGNALS))]
    )
    stamps = np.arange(rows, dtype=np.int64) * 1000
    return stamps, values


def has_flag(result, flag: QualityFlag) -> np.ndarray:
    return (result.quality & np.uint16(flag)) != 0


def test_nan_and_inf_burst_is_a_data_quality_issue_not_an_anomaly() -> None:
    stamps, values = normal_stream(2000)
    clean = StreamingAnomalyDetector(SIGNALS, CONFIG).update(stamps, values)
    values = values.copy()
    values[1000:1100, 1] = np.nan  # one signal drops out
    values[1100:1150, :] = np.nan  # the whole row drops out
    values[1150:1170, 2] = np.inf
    values[1170:1180, 3] = -np.inf
    detector = StreamingAnomalyDetector(SIGNALS, CONFIG)
    result = detector.update(stamps, values)

    burst = slice(1000, 1180)
    assert has_flag(result, QualityFlag.MISSING_VALUES)[burst].all()
    assert has_flag(result, QualityFlag.ALL_MISSING)[1100:1150].all()
    assert result.has_data_quality_issue[burst].all()
    assert result.missing[1000:1100, 1].all()
    # No anomaly that the same stream without the burst does not have.
    assert not (result.is_anomaly & ~clean.is_anomaly).any()
    assert np.isfinite(result.score).all()
    assert not result.has_data_quality_issue[1180:].any()


def test_nan_burst_does_not_poison_the_model() -> None:
    stamps, values = normal_stream(3000)
    clean = StreamingAnomalyDetector(SIGNALS, CONFIG)
    clean_result = clean.update(stamps, values)

    dirty_values = values.copy()
    dirty_values[1000:1400, 0] = np.nan
    dirty_values[1400:1410, :] = np.inf
    dirty = StreamingAnomalyDetector(SIGNALS, CONFIG)
    dirty_result = dirty.update(stamps, dirty_values)

    state = dirty.to_state()
    level = decode_array(state["baselines"]["level"])
    variance = decode_array(state["baselines"]["variance"])
    clean_level = decode_array(clean.to_state()["baselines"]["level"])
    assert np.isfinite(level).all()
    assert np.isfinite(variance).all()
    assert np.allclose(level, clean_level, atol=0.5)
    # After the burst the detector behaves as if it never happened.
    after = slice(2000, None)
    assert (dirty_result.is_anomaly[1410:] == clean_result.is_anomaly[1410:]).mean() > 0.99
    assert np.allclose(dirty_result.score[after], clean_result.score[after], rtol=0.5, atol=1.0)


def test_stuck_sensor_is_flagged_on_its_signal_only() -> None:
    stamps, values = normal_stream(3000)
    values[1500:2500, 2] = values[1499, 2]  # frozen reading
    detector = StreamingAnomalyDetector(SIGNALS, CONFIG)
    result = detector.update(stamps, values)

    stuck_rows = np.flatnonzero(result.stuck[:, 2])
    assert stuck_rows.size > 0
    # Flagged after a run long enough to be implausible, and until the sensor moves.
    # The first stuck row repeats the reading of row 1499 stuck_min_rows times.
    assert 1499 + CONFIG.stuck_min_rows <= stuck_rows[0] < 1700
    assert stuck_rows[-1] == 2499
    assert not result.stuck[:, [0, 1, 3]].any()
    assert has_flag(result, QualityFlag.STUCK_SENSOR)[stuck_rows].all()
    assert not result.stuck[2500:].any()


def test_a_signal_that_is_normally_constant_is_not_called_stuck() -> None:
    stamps, values = normal_stream(3000)
    values[:, 3] = 42.0  # a set-point
    values[1000, 3] = 43.0  # changed once
    result = StreamingAnomalyDetector(SIGNALS, CONFIG).update(stamps, values)
    assert not result.stuck.any()


def test_time_gaps_and_steps_back_are_reported_and_harmless() -> None:
    stamps, values = normal_stream(2000)
    regular = StreamingAnomalyDetector(SIGNALS, CONFIG).update(stamps, values)
    stamps = stamps.copy()
    stamps[1000:] += 3_600_000  # one hour without data
    stamps[1500:] -= 120_000  # the clock steps back two minutes
    detector = StreamingAnomalyDetector(SIGNALS, CONFIG)
    result = detector.update(stamps, values)
    assert has_flag(result, QualityFlag.TIME_GAP)[1000]
    assert has_flag(result, QualityFlag.TIME_BACKWARDS)[1500]
    assert has_flag(result, QualityFlag.TIME_GAP).sum() == 1
    # The model counts rows, not time: scores are exactly those of a regular clock.
    assert result.score.tobytes() == regular.score.tobytes()


def test_warm_up_rows_are_marked_and_never_flagged() -> None:
    stamps, values = normal_stream(500)
    values[50:100] += 100.0
    result = StreamingAnomalyDetector(SIGNALS, CONFIG).update(stamps, values)
    assert has_flag(result, QualityFlag.WARMING_UP)[: CONFIG.warmup_rows].all()
    assert not has_flag(result, QualityFlag.WARMING_UP)[CONFIG.warmup_rows :].any()
    assert not result.is_anomaly[: CONFIG.warmup_rows].any()
    assert not result.has_data_quality_issue[: CONFIG.warmup_rows].any()


def test_garbage_never_crashes_or_leaves_non_finite_scores() -> None:
    rng = np.random.default_rng(99)
    rows = 1500
    values = rng.normal(size=(rows, len(SIGNALS)))
    cells = rng.random(size=values.shape)
    values[cells < 0.05] = np.nan
    values[(cells >= 0.05) & (cells < 0.07)] = np.inf
    values[(cells >= 0.07) & (cells < 0.08)] = -np.inf
    values[(cells >= 0.08) & (cells < 0.09)] = 1e300
    values[:250, 0] = np.nan  # a signal that starts missing
    values[:, 3] = 0.0  # a signal that never moves
    stamps = rng.integers(-(10**12), 10**12, size=rows).astype(np.int64)  # scrambled clock
    detector = StreamingAnomalyDetector(SIGNALS, CONFIG)
    for start in range(0, rows, 37):
        result = detector.update(stamps[start : start + 37], values[start : start + 37])
        assert np.isfinite(result.score).all()
        assert np.isfinite(result.signal_scores).all()
    state = detector.to_state()
    assert np.isfinite(decode_array(state["baselines"]["variance"])).all()
