"""The local point buffer: points waiting to be sent, oldest first, bounded.

Points are kept in three compact columns (signal id, timestamp, value), about
20 bytes a point, so a buffer of a million points costs about 20 MB and no
Python object per point. When the buffer is full the oldest points are dropped
and counted: a machine that stays offline for long loses its oldest data, never
its memory.

Every point gets a position in recording order (0, 1, 2, ...). ``removed`` is
the position of the oldest point still buffered; everything before it was
taken into a batch or dropped. The client uses positions to know when all that
was recorded before a ``flush()`` has been settled.

Not thread-safe: the client calls it under its own lock.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass

# Drop-oldest moves a head offset; the columns are compacted once the dead
# prefix is this long and at least half of them, so each point is moved O(1) times.
_COMPACT_AFTER = 4096


@dataclass(frozen=True)
class Series:
    """The points of one signal in a batch, in recording order."""

    signal: str
    timestamps_ms: array[int]
    values: array[float]


@dataclass(frozen=True)
class Taken:
    """Points taken from the buffer for one batch."""

    first_position: int
    points: int
    series: list[Series]


class PointBuffer:
    def __init__(self, limit_points: int) -> None:
        if limit_points < 1:
            raise ValueError("the buffer must hold at least one point")
        self.limit_points = limit_points
        self._names: list[str] = []
        self._ids: dict[str, int] = {}
        self._signals: array[int] = array("I")
        self._timestamps: array[int] = array("q")
        self._values: array[float] = array("d")
        self._head = 0
        # Positions: points ever appended, and the position of the oldest one held.
        self.appended = 0
        self.removed = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._values) - self._head

    def append(self, signal: str, timestamp_ms: int, value: float) -> int:
        """Adds one point; returns how many old points were dropped to make room."""
        sid = self._ids.get(signal)
        if sid is None:
            sid = self._intern(signal)
        self._signals.append(sid)
        self._timestamps.append(timestamp_ms)
        self._values.append(value)
        self.appended += 1
        return self._trim()

    def extend(self, signal: str, timestamps_ms: array[int], values: array[float]) -> int:
        """Adds a run of one signal's points (columns of the same length)."""
        if len(timestamps_ms) != len(values):
            raise ValueError(
                f"{len(timestamps_ms)} timestamps for {len(values)} values of {signal!r}"
            )
        sid = self._ids.get(signal)
        if sid is None:
            sid = self._intern(signal)
        count = len(values)
        self._signals.extend(array("I", [sid]) * count)
        self._timestamps.extend(timestamps_ms)
        self._values.extend(values)
        self.appended += count
        return self._trim()

    def extend_row(self, timestamp_ms: int, signals: Iterable[str], values: array[float]) -> int:
        """Adds one point per signal, all at ``timestamp_ms`` (``values`` in signal order)."""
        ids = self._ids
        start = len(self._signals)
        for signal in signals:
            sid = ids.get(signal)
            self._signals.append(self._intern(signal) if sid is None else sid)
        count = len(self._signals) - start
        if count != len(values):
            del self._signals[start:]
            raise ValueError(f"{count} signals for {len(values)} values")
        self._timestamps.extend(array("q", [timestamp_ms]) * count)
        self._values.extend(values)
        self.appended += count
        return self._trim()

    def take(self, max_points: int) -> Taken:
        """Removes up to ``max_points`` of the oldest points, grouped by signal."""
        start = self._head
        end = min(start + max_points, len(self._values))
        signals = self._signals[start:end]
        timestamps = self._timestamps[start:end]
        values = self._values[start:end]
        self._head = end
        self.removed += end - start
        self._compact()
        return Taken(
            first_position=self.removed - (end - start),
            points=end - start,
            series=self._group(signals, timestamps, values),
        )

    def _group(
        self, signals: array[int], timestamps: array[int], values: array[float]
    ) -> list[Series]:
        if not signals:
            return []
        first = signals[0]
        if signals.count(first) == len(signals):  # one signal only (record_many)
            return [Series(self._names[first], timestamps, values)]
        grouped: dict[int, tuple[array[int], array[float]]] = {}
        for sid, timestamp, value in zip(signals, timestamps, values, strict=True):
            columns = grouped.get(sid)
            if columns is None:
                columns = grouped[sid] = (array("q"), array("d"))
            columns[0].append(timestamp)
            columns[1].append(value)
        return [Series(self._names[sid], ts, vs) for sid, (ts, vs) in grouped.items()]

    def _intern(self, signal: str) -> int:
        sid = len(self._names)
        self._names.append(signal)
        self._ids[signal] = sid
        return sid

    def _trim(self) -> int:
        excess = len(self) - self.limit_points
        if excess <= 0:
            return 0
        self._head += excess
        self.removed += excess
        self.dropped += excess
        self._compact()
        return excess

    def _compact(self) -> None:
        head = self._head
        if head >= _COMPACT_AFTER and 2 * head >= len(self._values):
            del self._signals[:head]
            del self._timestamps[:head]
            del self._values[:head]
            self._head = 0
