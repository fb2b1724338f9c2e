"""The SDK's local buffer: bounded, oldest dropped first, positions kept."""

from __future__ import annotations

from array import array

import pytest

from imcloud_device.backoff import Backoff
from imcloud_device.buffer import PointBuffer


def columns(buffer: PointBuffer, count: int) -> list[tuple[str, list[int], list[float]]]:
    taken = buffer.take(count)
    return [(s.signal, list(s.timestamps_ms), list(s.values)) for s in taken.series]


def test_points_come_out_oldest_first_grouped_by_signal() -> None:
    buffer = PointBuffer(100)
    buffer.append("a", 1, 1.0)
    buffer.extend_row(2, ["a", "b"], array("d", [2.0, 20.0]))
    buffer.extend("b", array("q", [3, 4]), array("d", [30.0, 40.0]))
    assert columns(buffer, 4) == [("a", [1, 2], [1.0, 2.0]), ("b", [2, 3], [20.0, 30.0])]
    assert columns(buffer, 10) == [("b", [4], [40.0])]
    assert len(buffer) == 0
    assert buffer.removed == buffer.appended == 5


def test_a_full_buffer_drops_the_oldest_points() -> None:
    buffer = PointBuffer(3)
    for i in range(5):
        buffer.append("a", i, float(i))
    assert buffer.extend("a", array("q", [5, 6]), array("d", [5.0, 6.0])) == 2
    assert (len(buffer), buffer.dropped, buffer.removed) == (3, 4, 4)
    taken = buffer.take(10)
    assert taken.first_position == 4
    assert list(taken.series[0].timestamps_ms) == [4, 5, 6]


def test_a_run_longer_than_the_buffer_keeps_its_newest_points() -> None:
    buffer = PointBuffer(10)
    buffer.extend("a", array("q", range(100)), array("d", [0.0] * 100))
    assert (len(buffer), buffer.dropped) == (10, 90)
    assert list(buffer.take(100).series[0].timestamps_ms) == list(range(90, 100))


def test_positions_survive_compaction() -> None:
    buffer = PointBuffer(1_000_000)
    buffer.extend("a", array("q", range(20_000)), array("d", range(20_000)))
    for start in range(0, 20_000, 1000):
        taken = buffer.take(1000)
        assert taken.first_position == start
        assert taken.series[0].timestamps_ms[0] == start
    assert len(buffer) == 0


def test_mismatched_columns_leave_the_buffer_as_it_was() -> None:
    buffer = PointBuffer(10)
    with pytest.raises(ValueError, match="2 signals for 1 values"):
        buffer.extend_row(1, ["a", "b"], array("d", [1.0]))
    with pytest.raises(ValueError, match="1 timestamps for 2 values"):
        buffer.extend("a", array("q", [1]), array("d", [1.0, 2.0]))
    assert len(buffer) == 0
    assert buffer.appended == 0


def test_backoff_grows_to_its_ceiling_with_jitter_and_resets() -> None:
    backoff = Backoff(initial_s=1, max_s=8)
    delays = [backoff.next_delay_s() for _ in range(6)]
    for delay, ceiling in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next_delay_s() <= 1
