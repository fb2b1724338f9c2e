"""A machine's track: its state and counter points become time by category and
counted units, once each, whatever the batches look like."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from imcloud_production.domain.catalog import (
    Comparison,
    CounterKind,
    CountSignal,
    EquipmentState,
    StateMapping,
    StateRule,
)
from imcloud_production.domain.tracking import (
    Progress,
    Rules,
    Series,
    Track,
    advance,
    by_minute,
)

MAPPING = StateMapping(
    tenant_id="t",
    equipment_model_id="m",
    state_signal="run_state",
    rules=tuple(
        StateRule(Comparison.EQUAL, float(code), state)
        for code, state in [
            (0, EquipmentState.IDLE),
            (1, EquipmentState.RUNNING),
            (2, EquipmentState.SETUP),
            (3, EquipmentState.DOWN),
        ]
    ),
    default_state=EquipmentState.DOWN,
    good=CountSignal("good", CounterKind.TOTAL),
    scrap=CountSignal("scrap", CounterKind.TOTAL),
    hold_s=10,
    update_time=datetime(2026, 1, 1, tzinfo=UTC),
)
RULES = Rules(threshold_ms=120_000, startup_window_ms=60_000, hold_ms=10_000)


def points(seconds: list[int], **signals: list[float]) -> dict[str, Series]:
    stamps = np.asarray(seconds, dtype=np.int64) * 1000
    return {name: Series(stamps, np.asarray(v, dtype=np.float64)) for name, v in signals.items()}


def seconds_by_category(progress: Progress) -> dict[str, float]:
    totals: dict[str, float] = {}
    for segment in progress.segments:
        totals[segment.category] = (
            totals.get(segment.category, 0.0) + (segment.end_ms - segment.start_ms) / 1000
        )
    return totals


def run(*batches: dict[str, Series]) -> tuple[Track, list[Progress]]:
    track = Track(tenant_id="t", equipment_id="e", station_id="s")
    return track, [advance(track, MAPPING, batch, RULES) for batch in batches]


def test_running_time_is_counted_as_it_passes_and_a_short_stop_is_a_small_stop() -> None:
    # Running 0..60 s, down 60..90 s (30 s: under the 120 s threshold), running to 150 s.
    seconds = list(range(0, 151, 5))
    states = [3.0 if 60 <= s < 90 else 1.0 for s in seconds]
    _, (progress,) = run(points(seconds, run_state=states))
    assert seconds_by_category(progress) == {"running": 120.0, "small_stop": 30.0}
    assert not progress.downtime_started


def test_a_long_stop_is_downtime_announced_once_and_ended() -> None:
    seconds = list(range(0, 401, 5))
    states = [3.0 if 100 <= s < 300 else 1.0 for s in seconds]
    first = points(seconds[:50], run_state=states[:50])  # up to 245 s: the stop lasts
    second = points(seconds[50:], run_state=states[50:])
    _, (opened, closed) = run(first, second)
    assert [s.start_ms for s in opened.downtime_started] == [100_000]
    assert not opened.downtime_ended
    assert not closed.downtime_started
    assert [(s.start_ms, s.end_ms) for s in closed.downtime_ended] == [(100_000, 300_000)]
    totals = seconds_by_category(opened)
    for category, value in seconds_by_category(closed).items():
        totals[category] = totals.get(category, 0.0) + value
    assert totals == {"running": 200.0, "down": 200.0}


def test_a_batch_delivered_again_changes_nothing() -> None:
    batch = points([0, 5, 10, 15], run_state=[1, 1, 1, 1], good=[10, 11, 12, 14])
    track, (first, again) = run(batch, batch)
    assert first.good == 4
    assert again.good == 0
    assert not again.segments
    assert again.late_points == 8
    assert track.last_ms == 15_000


def test_a_smaller_total_is_a_counter_reset_counted_from_zero() -> None:
    _, (progress,) = run(points([0, 5, 10, 15], run_state=[1, 1, 1, 1], good=[98, 99, 2, 3]))
    assert progress.good == 1 + 2 + 1


def test_silence_beyond_the_hold_time_is_no_data_and_no_segment_covers_it() -> None:
    # Points at 0..20 s, then nothing until 100 s: the state holds 10 s after 20 s.
    _, (progress,) = run(points([0, 10, 20, 100, 110], run_state=[1, 1, 1, 1, 1]))
    assert seconds_by_category(progress) == {"running": 20 + 10 + 10}
    assert [(i.state, i.start_ms, i.end_ms) for i in progress.intervals] == [
        (EquipmentState.RUNNING, 0, 30_000),
        (EquipmentState.NO_DATA, 30_000, 100_000),
    ]


def test_scrap_right_after_setup_is_a_startup_reject() -> None:
    seconds = list(range(0, 101, 5))
    scrapped_at = {40: 1, 50: 2, 100: 3}
    scrap = [0.0] * len(seconds)
    for index, second in enumerate(seconds):
        scrap[index] = max([v for s, v in scrapped_at.items() if s <= second], default=0)
    _, (progress,) = run(
        points(
            seconds,
            run_state=[2.0 if s < 10 else 1.0 for s in seconds],
            scrap=scrap,
            good=[0.0] * len(seconds),
        )
    )
    # Running from 10 s: the window closes at 70 s; scrap at 40 and 50 s is start-up scrap.
    counts = progress.counts
    assert list(zip(counts.at_ms.tolist(), counts.startup_scrap.tolist(), strict=True)) == [
        (40_000, 1.0),
        (50_000, 1.0),
        (100_000, 0.0),
    ]


def test_minutes_get_their_share_of_a_segment_and_the_ideal_time_of_their_units() -> None:
    seconds = list(range(50, 131, 10))
    _, (progress,) = run(points(seconds, run_state=[1.0] * len(seconds), good=list(range(9))))
    minutes = by_minute(progress.segments, progress.counts, ideal_cycle_s=4.0)
    assert minutes[0]["running_s"] == 10
    assert minutes[60_000]["running_s"] == 60
    assert minutes[120_000]["running_s"] == 10
    assert sum(m.get("good", 0) for m in minutes.values()) == 8
    assert minutes[60_000]["ideal_s"] == 6 * 4.0
