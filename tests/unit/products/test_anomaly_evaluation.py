"""The benchmark scorers, on small hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from imcloud_products.evaluation.datasets import NabFile
from imcloud_products.evaluation.nab import normalised_scores, scaled_sigmoid
from imcloud_products.evaluation.skab import (
    Confusion,
    changepoint_windows,
    improved_scale,
    match_changepoints,
)

MINUTE = 60_000


def test_skab_binary_metrics_follow_tsad() -> None:
    confusion = Confusion(tp=30, tn=50, fp=10, fn=10)
    assert confusion.f1 == pytest.approx(30 / (30 + (10 + 10) / 2))
    assert confusion.far_percent == pytest.approx(100 * 10 / 60)
    assert confusion.mar_percent == pytest.approx(100 * 10 / 40)
    total = confusion + Confusion(tp=1, tn=2, fp=3, fn=4)
    assert (total.tp, total.tn, total.fp, total.fn) == (31, 52, 13, 14)


def test_skab_changepoint_windows_and_matching() -> None:
    windows = changepoint_windows(np.array([0, 30_000, 200_000], dtype=np.int64))
    # Overlapping windows: the right one loses its left part.
    assert windows == [[0, 60_000], [60_000, 90_000], [200_000, 260_000]]
    hits, false_positives, missed = match_changepoints(
        windows, np.array([-5_000, 10_000, 20_000, 100_000, 300_000], dtype=np.int64)
    )
    assert hits == [(0, 10_000, 60_000)]
    assert false_positives == [-5_000, 100_000, 300_000]
    assert missed == [1, 2]
    assert improved_scale(0, 0, 60_000, 1.0, -0.11) == pytest.approx(1.0)
    assert improved_scale(0, 60_000, 60_000, 1.0, -0.11) == pytest.approx(-0.11)


def test_nab_scaled_sigmoid_matches_numenta() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(3.5) == -1.0


def nab_file(name: str, rows: int, windows: list[tuple[int, int]]) -> NabFile:
    stamps = np.arange(rows, dtype=np.int64) * 5 * MINUTE
    return NabFile(
        name=name,
        timestamps=stamps,
        values=np.zeros(rows),
        windows=tuple((int(stamps[a]), int(stamps[b])) for a, b in windows),
    )


@pytest.fixture
def corpus() -> list[NabFile]:
    return [
        nab_file("x/one.csv", 2000, [(1000, 1100), (1500, 1600)]),
        nab_file("x/two.csv", 1000, [(700, 800)]),
    ]


def test_nab_perfect_detector_scores_100_and_null_scores_0(corpus) -> None:
    perfect = {}
    for file in corpus:
        scores = np.zeros(file.timestamps.shape[0])
        scores[np.isin(file.timestamps, [start for start, _ in file.windows])] = 1.0
        perfect[file.name] = scores
    for result in normalised_scores(corpus, perfect).values():
        assert result.normalised == pytest.approx(100.0)

    null = {file.name: np.full(file.timestamps.shape[0], 0.5) for file in corpus}
    for result in normalised_scores(corpus, null).values():
        assert result.normalised == pytest.approx(0.0)


def test_nab_rewards_earlier_detection_and_penalises_false_positives(corpus) -> None:
    def detector(offset: int, false_alarm: bool) -> dict[str, np.ndarray]:
        out = {}
        for file in corpus:
            scores = np.zeros(file.timestamps.shape[0])
            for start, _ in file.windows:
                scores[int(np.searchsorted(file.timestamps, start)) + offset] = 0.9
            if false_alarm:
                scores[400] = 0.95
            out[file.name] = scores
        return out

    early = normalised_scores(corpus, detector(5, False))["standard"].normalised
    late = normalised_scores(corpus, detector(80, False))["standard"].normalised
    noisy = normalised_scores(corpus, detector(5, True))["standard"]
    assert 90.0 < early < 100.0
    assert late < early
    # The false alarms score above the detections, so the best threshold keeps
    # them and pays for them (two false positives of -0.11 each).
    assert noisy.normalised == pytest.approx(early - 100 * 0.22 / (3 + 3))
