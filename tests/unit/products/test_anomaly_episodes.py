"""Episodes: one per continuous problem, closed after a quiet period."""

from __future__ import annotations

import json

import numpy as np

from imcloud_products.domain.anomaly import (
    DetectorConfig,
    EpisodeTracker,
    MachineEpisodes,
    StreamingAnomalyDetector,
)

SECOND = 1000


def stamps(rows: int) -> np.ndarray:
    return np.arange(rows, dtype=np.int64) * SECOND


def test_a_continuous_anomaly_with_short_dips_is_one_episode() -> None:
    flags = np.zeros(600, dtype=bool)
    flags[100:300] = True
    flags[150:160] = False  # the flag dips for 10 s, shorter than the quiet period
    flags[200:205] = False
    scores = np.where(flags, 20.0, 1.0)
    scores[220] = 55.0
    tracker = EpisodeTracker("anomaly", quiet_period_ms=30 * SECOND, severity_reference=12.0)

    events = tracker.update(stamps(600), flags, scores)

    assert [e.type for e in events] == ["opened", "escalated", "closed"]
    opened, escalated, closed = (e.episode for e in events)
    assert opened.start_ms == 100 * SECOND
    assert opened.rows == 1
    assert not opened.closed
    assert opened.severity == "low"  # 20 / 12
    assert (escalated.severity, escalated.peak_ms, escalated.closed) == (
        "medium",
        220 * SECOND,
        False,
    )
    assert closed.closed
    assert (closed.start_ms, closed.end_ms) == (100 * SECOND, 299 * SECOND)
    assert closed.rows == 200 - 15
    assert (closed.peak_score, closed.peak_ms) == (55.0, 220 * SECOND)
    assert closed.severity == "medium"  # 55 / 12 is between 2 and 5
    assert tracker.current is None


def test_an_episode_escalates_once_per_rise_in_severity_however_the_rows_come() -> None:
    flags = np.zeros(400, dtype=bool)
    flags[100:300] = True
    scores = np.where(flags, 1.0, 0.0)
    scores[150:160] = 3.0  # medium
    scores[170] = 2.5  # medium again: no rise
    scores[200] = 7.0  # high
    scores[250] = 9.0  # higher, but high is the top
    flags[310:320] = True
    scores[310:320] = 6.0  # a second episode that opens high: opened, nothing to escalate

    def events_in(cuts: list[int]) -> list[tuple[str, int, str, int]]:
        tracker = EpisodeTracker("anomaly", quiet_period_ms=5 * SECOND)
        found = []
        for start, stop in zip([0, *cuts], [*cuts, 400], strict=True):
            if start != 0:  # restored between batches, as the service does
                tracker = EpisodeTracker.from_state(json.loads(json.dumps(tracker.to_state())))
            window = slice(start, stop)
            found += tracker.update(stamps(400)[window], flags[window], scores[window])
        return [(e.type, e.episode.episode_id, e.episode.severity, e.episode.end_ms) for e in found]

    expected = [
        ("opened", 1, "low", 100 * SECOND),
        ("escalated", 1, "medium", 150 * SECOND),
        ("escalated", 1, "high", 200 * SECOND),
        ("closed", 1, "high", 299 * SECOND),
        ("opened", 2, "high", 310 * SECOND),
        ("closed", 2, "high", 319 * SECOND),
    ]
    assert events_in([]) == expected
    assert events_in([151, 152, 200, 201, 311]) == expected
    assert events_in(list(range(1, 400))) == expected


def test_a_jump_from_low_to_high_is_one_escalation() -> None:
    flags = np.zeros(100, dtype=bool)
    flags[10:50] = True
    scores = np.where(flags, 1.0, 0.0)
    scores[30] = 8.0
    tracker = EpisodeTracker("anomaly", quiet_period_ms=5 * SECOND)
    events = tracker.update(stamps(100), flags, scores)
    assert [(e.type, e.episode.severity) for e in events] == [
        ("opened", "low"),
        ("escalated", "high"),
        ("closed", "high"),
    ]


def test_separate_anomalies_are_separate_episodes_and_stay_open_until_quiet() -> None:
    flags = np.zeros(400, dtype=bool)
    flags[50:60] = True
    flags[200:210] = True
    flags[390:] = True
    tracker = EpisodeTracker("anomaly", quiet_period_ms=30 * SECOND)
    events = tracker.update(stamps(400), flags, np.where(flags, 15.0, 0.5))
    assert [(e.type, e.episode.episode_id) for e in events] == [
        ("opened", 1),
        ("closed", 1),
        ("opened", 2),
        ("closed", 2),
        ("opened", 3),
    ]
    assert tracker.current is not None
    assert tracker.current.episode_id == 3
    assert tracker.close_if_quiet(now_ms=399 * SECOND + 29 * SECOND) == []
    [closing] = tracker.close_if_quiet(now_ms=399 * SECOND + 30 * SECOND)
    assert closing.type == "closed"
    assert closing.episode.end_ms == 399 * SECOND


def test_tracker_state_round_trips_mid_episode() -> None:
    flags = np.zeros(300, dtype=bool)
    flags[100:200] = True
    scores = np.linspace(0.0, 30.0, 300)
    whole = EpisodeTracker("anomaly", quiet_period_ms=10 * SECOND)
    expected = [(e.type, e.episode) for e in whole.update(stamps(300), flags, scores)]

    first = EpisodeTracker("anomaly", quiet_period_ms=10 * SECOND)
    got = [(e.type, e.episode) for e in first.update(stamps(150), flags[:150], scores[:150])]
    restored = EpisodeTracker.from_state(json.loads(json.dumps(first.to_state())))
    got += [
        (e.type, e.episode) for e in restored.update(stamps(300)[150:], flags[150:], scores[150:])
    ]
    assert got == expected


def test_detector_anomaly_and_nan_burst_give_one_episode_each() -> None:
    rng = np.random.default_rng(5)
    rows = 2500
    values = rng.normal(size=(rows, 3)) + np.array([10.0, 20.0, 30.0])
    values[1500:1800, 2] += 8.0  # a sustained anomaly on the third signal
    values[800:850, 0] = np.nan  # a sensor drops out
    detector = StreamingAnomalyDetector(["a", "b", "c"], DetectorConfig(warmup_rows=300))
    episodes = MachineEpisodes(quiet_period_ms=60 * SECOND, threshold_on=12.0)

    events = []
    for start in range(0, rows, 100):
        window = slice(start, start + 100)
        events += episodes.update(detector.update(stamps(rows)[window], values[window]))

    anomaly = [e for e in events if e.episode.kind == "anomaly"]
    quality = [e for e in events if e.episode.kind == "data_quality"]
    # Each episode opens once and closes once.
    opened = [e.episode.episode_id for e in anomaly if e.type == "opened"]
    closed = [e.episode for e in anomaly if e.type == "closed"]
    assert opened == [episode.episode_id for episode in closed]
    # The sustained anomaly is exactly one episode ...
    overlapping = [
        ep for ep in closed if ep.end_ms >= 1500 * SECOND and ep.start_ms < 1800 * SECOND
    ]
    assert len(overlapping) == 1
    closed_anomaly = overlapping[0]
    assert 1500 * SECOND <= closed_anomaly.start_ms < 1530 * SECOND
    assert closed_anomaly.end_ms >= 1790 * SECOND
    assert closed_anomaly.top_signals(1) == ["c"]
    # ... and anything else flagged on this pure noise is a short blip.
    assert all(ep.rows < 10 for ep in closed if ep is not closed_anomaly)
    assert [e.type for e in quality] == ["opened", "closed"]
    closed_quality = quality[1].episode
    assert (closed_quality.start_ms, closed_quality.end_ms) == (800 * SECOND, 849 * SECOND)
    assert closed_quality.top_signals() == ["a"]
    assert closed_quality.quality_flags & 2  # MISSING_VALUES
