"""Restore equivalence and batch-size invariance of the streaming detector.

Replaying a stream through the platform (other batch sizes, save/restore between
batches) must give bit-identical results to one direct run.
"""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest

from imcloud_products.domain.anomaly import (
    DetectionResult,
    DetectorConfig,
    MachineEpisodes,
    StreamingAnomalyDetector,
)

SIGNALS = ("flow", "pressure", "current", "temperature", "vibration")
CONFIG = DetectorConfig(warmup_rows=200, block_rows=16)
# Every per-row array of a result (all its fields but the signal names).
ARRAYS = tuple(f.name for f in dataclasses.fields(DetectionResult) if f.name != "signal_names")


def messy_stream(rows: int = 3000, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Correlated signals with an anomaly, NaN bursts, infinities, a stuck sensor,
    a time gap and a step back in time: every code path gets exercised."""
    rng = np.random.default_rng(seed)
    latent = np.cumsum(rng.normal(scale=0.05, size=rows))
    values = np.column_stack(
        [
            latent + rng.normal(scale=0.3, size=rows),
            2.0 * latent + rng.normal(scale=0.3, size=rows),
            -latent + rng.normal(scale=0.3, size=rows),
            np.round(20 + np.cumsum(rng.normal(scale=0.02, size=rows)), 1),
            rng.normal(size=rows),
        ]
    )
    values[1500:1800, 1] += 4.0
    values[900:940, 2] = np.nan
    values[950, :] = np.nan
    values[1000, 4] = np.inf
    values[2000:2400, 4] = values[1999, 4]
    stamps = np.arange(rows, dtype=np.int64) * 1000 + 1_700_000_000_000
    stamps[2500:] += 3_600_000
    stamps[2700:] -= 30_000
    return stamps, values


def run_in_batches(
    stamps: np.ndarray, values: np.ndarray, cuts: list[int], restore: bool
) -> tuple[DetectionResult, list]:
    detector = StreamingAnomalyDetector(SIGNALS, CONFIG)
    episodes = MachineEpisodes(quiet_period_ms=30_000, threshold_on=CONFIG.threshold_on)
    results, events = [], []
    bounds = [0, *cuts, len(stamps)]
    for start, stop in itertools.pairwise(bounds):
        if restore:
            state = json.loads(json.dumps(detector.to_state()))
            detector = StreamingAnomalyDetector.from_state(state)
            episodes = MachineEpisodes.from_state(json.loads(json.dumps(episodes.to_state())))
        result = detector.update(stamps[start:stop], values[start:stop])
        results.append(result)
        events += episodes.update(result)
    return concatenate(results), [(e.type, e.episode.to_dict()) for e in events]


def concatenate(results: list[DetectionResult]) -> DetectionResult:
    joined = {name: np.concatenate([getattr(r, name) for r in results]) for name in ARRAYS}
    return DetectionResult(signal_names=results[0].signal_names, **joined)


def assert_identical(actual: DetectionResult, expected: DetectionResult) -> None:
    for name in ARRAYS:
        got, want = getattr(actual, name), getattr(expected, name)
        assert got.dtype == want.dtype, name
        # Bit-identical, NaN included: compare the raw bytes.
        assert got.tobytes() == want.tobytes(), f"{name} differs"


@pytest.fixture(scope="module")
def stream() -> tuple[np.ndarray, np.ndarray]:
    return messy_stream()


@pytest.fixture(scope="module")
def direct_run(stream: tuple[np.ndarray, np.ndarray]) -> tuple[DetectionResult, list]:
    stamps, values = stream
    return run_in_batches(stamps, values, cuts=[], restore=False)


def test_the_stream_exercises_anomalies_and_quality_issues(direct_run) -> None:
    result, events = direct_run
    assert result.is_anomaly[1500:1800].any()
    assert result.stuck[:, 4].any()
    assert result.missing.any()
    assert {kind for kind, _ in events} == {"opened", "escalated", "closed"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_restoring_state_at_random_points_gives_identical_results(
    stream, direct_run, seed: int
) -> None:
    stamps, values = stream
    rng = np.random.default_rng(seed)
    cuts = sorted(set(rng.integers(1, len(stamps), size=25).tolist()))
    restored, restored_events = run_in_batches(stamps, values, cuts, restore=True)
    expected, expected_events = direct_run
    assert_identical(restored, expected)
    assert restored_events == expected_events


@pytest.mark.parametrize("batch_rows", [1, 7, 16, 100, 999])
def test_batch_size_does_not_change_results(stream, direct_run, batch_rows: int) -> None:
    stamps, values = stream
    cuts = list(range(batch_rows, len(stamps), batch_rows))
    batched, batched_events = run_in_batches(stamps, values, cuts, restore=False)
    expected, expected_events = direct_run
    assert_identical(batched, expected)
    assert batched_events == expected_events


def test_state_is_plain_json(stream) -> None:
    stamps, values = stream
    detector = StreamingAnomalyDetector(SIGNALS, CONFIG)
    detector.update(stamps[:1234], values[:1234])
    text = json.dumps(detector.to_state(), allow_nan=False)
    assert StreamingAnomalyDetector.from_state(json.loads(text)).rows_seen == 1234


def test_reset_gives_a_fresh_detector(stream) -> None:
    stamps, values = stream
    used = StreamingAnomalyDetector(SIGNALS, CONFIG)
    used.update(stamps, values)
    used.reset()
    fresh = StreamingAnomalyDetector(SIGNALS, CONFIG)
    assert used.to_state() == fresh.to_state()
    assert_identical(
        used.update(stamps[:500], values[:500]), fresh.update(stamps[:500], values[:500])
    )


def test_empty_batch_is_accepted() -> None:
    detector = StreamingAnomalyDetector(SIGNALS, CONFIG)
    result = detector.update(np.zeros(0, dtype=np.int64), np.zeros((0, len(SIGNALS))))
    assert len(result) == 0
    assert result.top_signals.shape == (0, CONFIG.top_signals)
