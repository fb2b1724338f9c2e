"""From a machine's state and counter signals to time by state and counted units.

Each machine has a ``Track``: what production remembers of it between batches.
A batch of points moves it forward and yields what happened:

- ``Segment``s of time by category (running, a stop by its state, a small stop),
  each written once: running time as it passes, a stop when it ends, because only
  then is it known whether it was a small stop (under the calendar's threshold)
  or downtime;
- ``Count``s of good and scrapped units, scrap inside the start-up window after
  setup or downtime marked as start-up rejects;
- the state timeline's closed intervals, and downtime that started or ended.

Points at or before the newest point already taken change nothing: a batch
delivered again, or resent, counts once. The last state holds ``hold_s`` after the
last point; silence beyond that is no data, which no segment covers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from imcloud_production.domain.catalog import CounterKind, CountSignal, EquipmentState, StateMapping

STOPS = frozenset(
    {EquipmentState.IDLE, EquipmentState.DOWN, EquipmentState.SETUP, EquipmentState.PLANNED_STOP}
)
# Stops whose end opens the start-up window (a planned stop or a small stop does not).
RESTARTS = frozenset({EquipmentState.DOWN, EquipmentState.SETUP, EquipmentState.IDLE})
SMALL_STOP = "small_stop"
MINUTE_MS = 60_000


@dataclass(frozen=True)
class Series:
    timestamps_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


@dataclass
class Track:
    tenant_id: str
    equipment_id: str
    station_id: str
    # None before the first state point, and while the machine is silent.
    state: EquipmentState | None = None
    since_ms: int = 0
    # Running time is counted up to here.
    flushed_ms: int = 0
    last_ms: int = -1
    good_last: float | None = None
    scrap_last: float | None = None
    startup_until_ms: int = 0
    # Whether the current stop has been announced as downtime.
    downtime_open: bool = False
    # The state before silence, taken up again when points resume.
    resumes_as: EquipmentState | None = None


@dataclass(frozen=True)
class Segment:
    """Time in one category: a state's name, or SMALL_STOP."""

    category: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Counts:
    """Units counted, point by point: arrays of equal length, in time order."""

    at_ms: npt.NDArray[np.int64]
    good: npt.NDArray[np.float64]
    scrap: npt.NDArray[np.float64]
    startup_scrap: npt.NDArray[np.float64]

    @classmethod
    def none(cls) -> Counts:
        return cls(
            np.empty(0, dtype=np.int64),
            np.empty(0),
            np.empty(0),
            np.empty(0),
        )

    def __len__(self) -> int:
        return int(self.at_ms.size)


@dataclass(frozen=True)
class Interval:
    state: EquipmentState
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Stop:
    """Downtime: a stop at or over the small-stop threshold; end_ms None while open."""

    state: EquipmentState
    start_ms: int
    end_ms: int | None


@dataclass
class Progress:
    segments: list[Segment] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts.none)
    intervals: list[Interval] = field(default_factory=list)
    downtime_started: list[Stop] = field(default_factory=list)
    downtime_ended: list[Stop] = field(default_factory=list)
    late_points: int = 0

    # Restarts seen in this batch: scrap in [start, end) is a start-up reject.
    startup_windows: list[tuple[int, int]] = field(default_factory=list)

    @property
    def good(self) -> float:
        return float(self.counts.good.sum())

    @property
    def scrap(self) -> float:
        return float(self.counts.scrap.sum())


@dataclass(frozen=True)
class Rules:
    threshold_ms: int
    startup_window_ms: int
    hold_ms: int


def advance(
    track: Track, mapping: StateMapping, points: Mapping[str, Series], rules: Rules
) -> Progress:
    """Moves ``track`` (in place) past the newer points of one batch."""
    progress = Progress()
    # Only the mapped signals are read: ``points`` may convert each on access.
    fresh = {
        name: _newer(points[name], track.last_ms, progress)
        for name in mapping.signals
        if name in points
    }
    times = _union(s.timestamps_ms for s in fresh.values())
    if times.size == 0:
        return progress
    # Counts are judged against the start-up window in force when they happen: the
    # one from an earlier batch, and those the state changes below open.
    earlier_startup = (-1, track.startup_until_ms)
    counted = _counted(track, mapping, fresh)
    mover = _Mover(track, rules, progress)
    for at_ms, kind, payload in _events(track, mapping, fresh, times, rules):
        mover.apply(at_ms, kind, payload)
    mover.finish(int(times[-1]))
    if counted is not None:
        stamps, good, scrap = counted
        startup = np.zeros(stamps.size, dtype=bool)
        for start, end in [earlier_startup, *progress.startup_windows]:
            startup |= (stamps >= start) & (stamps < end)
        progress.counts = Counts(stamps, good, scrap, np.where(startup, scrap, 0.0))
    return progress


# Event kinds, in the order they apply at the same instant: silence ends before a
# state point at that instant sets the state, and counts are judged by that state.
_SILENCE, _RESUME, _STATE = range(3)


def _events(
    track: Track,
    mapping: StateMapping,
    fresh: Mapping[str, Series],
    times: npt.NDArray[np.int64],
    rules: Rules,
) -> list[tuple[int, int, object]]:
    events: list[tuple[int, int, object]] = []
    previous = np.concatenate([[track.last_ms if track.last_ms >= 0 else times[0]], times[:-1]])
    for gap in np.flatnonzero(times - previous > rules.hold_ms):
        events.append((int(previous[gap]) + rules.hold_ms, _SILENCE, None))
        events.append((int(times[gap]), _RESUME, None))
    state_series = fresh.get(mapping.state_signal)
    if state_series is not None and state_series.values.size:
        states = [mapping.state_of(float(v)) for v in state_series.values]
        for index, state in enumerate(states):
            if index == 0 or state is not states[index - 1]:
                events.append((int(state_series.timestamps_ms[index]), _STATE, state))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def _counted(
    track: Track, mapping: StateMapping, fresh: Mapping[str, Series]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
    """(time, good, scrap) of every point that counted a unit; the totals' last
    values are kept on the track."""
    good = _deltas(mapping.good, fresh, track.good_last)
    scrap = _deltas(mapping.scrap, fresh, track.scrap_last)
    track.good_last = _last_value(mapping.good, fresh, track.good_last)
    track.scrap_last = _last_value(mapping.scrap, fresh, track.scrap_last)
    if not good[0].size and not scrap[0].size:
        return None
    stamps = np.concatenate([good[0], scrap[0]])
    good_units = np.concatenate([good[1], np.zeros(scrap[0].size)])
    scrap_units = np.concatenate([np.zeros(good[0].size), scrap[1]])
    order = np.argsort(stamps, kind="stable")
    return stamps[order], good_units[order], scrap_units[order]


class _Mover:
    def __init__(self, track: Track, rules: Rules, progress: Progress) -> None:
        self.track = track
        self.rules = rules
        self.progress = progress

    def apply(self, at_ms: int, kind: int, payload: object) -> None:
        self._announce_downtime(at_ms)
        track = self.track
        if kind == _SILENCE:
            if track.state is not None:
                track.resumes_as = track.state
                self._end_state(at_ms)
                track.state = None
                track.since_ms = at_ms
        elif kind == _RESUME:
            if track.state is None and track.resumes_as is not None:
                self.progress.intervals.append(
                    Interval(EquipmentState.NO_DATA, track.since_ms, at_ms)
                )
                self._begin(track.resumes_as, at_ms, restarted=True)
        else:
            assert isinstance(payload, EquipmentState)
            if payload is not track.state:
                came_back = track.state is None or self._restarting(at_ms)
                if track.state is not None:
                    self._end_state(at_ms)
                self._begin(payload, at_ms, restarted=came_back)
        track.last_ms = max(track.last_ms, at_ms)

    def finish(self, newest_ms: int) -> None:
        track = self.track
        self._announce_downtime(newest_ms)
        if track.state is EquipmentState.RUNNING and newest_ms > track.flushed_ms:
            self.progress.segments.append(Segment("running", track.flushed_ms, newest_ms))
            track.flushed_ms = newest_ms
        track.last_ms = max(track.last_ms, newest_ms)

    def _restarting(self, at_ms: int) -> bool:
        track = self.track
        return track.state in RESTARTS and (
            track.state is EquipmentState.SETUP or at_ms - track.since_ms >= self.rules.threshold_ms
        )

    def _begin(self, state: EquipmentState, at_ms: int, *, restarted: bool) -> None:
        track = self.track
        if state is EquipmentState.RUNNING and restarted:
            track.startup_until_ms = at_ms + self.rules.startup_window_ms
            self.progress.startup_windows.append((at_ms, track.startup_until_ms))
        track.state = state
        track.since_ms = at_ms
        track.flushed_ms = at_ms
        track.resumes_as = None
        track.downtime_open = False

    def _end_state(self, at_ms: int) -> None:
        track = self.track
        state = track.state
        assert state is not None
        if at_ms > track.since_ms:
            self.progress.intervals.append(Interval(state, track.since_ms, at_ms))
        if state is EquipmentState.RUNNING:
            if at_ms > track.flushed_ms:
                self.progress.segments.append(Segment("running", track.flushed_ms, at_ms))
            return
        lasted = at_ms - track.since_ms
        long_stop = lasted >= self.rules.threshold_ms or state is EquipmentState.PLANNED_STOP
        category = state.value if long_stop else SMALL_STOP
        if at_ms > track.since_ms:
            self.progress.segments.append(Segment(category, track.since_ms, at_ms))
        if long_stop and state is not EquipmentState.PLANNED_STOP:
            if not track.downtime_open:
                self.progress.downtime_started.append(Stop(state, track.since_ms, None))
            self.progress.downtime_ended.append(Stop(state, track.since_ms, at_ms))

    def _announce_downtime(self, at_ms: int) -> None:
        track = self.track
        if (
            track.state in STOPS
            and track.state is not EquipmentState.PLANNED_STOP
            and not track.downtime_open
            and at_ms - track.since_ms >= self.rules.threshold_ms
        ):
            assert track.state is not None
            track.downtime_open = True
            self.progress.downtime_started.append(Stop(track.state, track.since_ms, None))


def _newer(series: Series, last_ms: int, progress: Progress) -> Series:
    keep = series.timestamps_ms > last_ms
    progress.late_points += int(keep.size - np.count_nonzero(keep))
    order = np.argsort(series.timestamps_ms[keep], kind="stable")
    return Series(series.timestamps_ms[keep][order], series.values[keep][order])


def _union(arrays: Iterable[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
    collected = [a for a in arrays if a.size]
    if not collected:
        return np.empty(0, dtype=np.int64)
    return np.unique(np.concatenate(collected))


def _deltas(
    counter: CountSignal | None, fresh: Mapping[str, Series], last: float | None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(times, units) of the points that counted something."""
    nothing = (np.empty(0, dtype=np.int64), np.empty(0))
    if counter is None or counter.signal not in fresh:
        return nothing
    series = fresh[counter.signal]
    finite = np.isfinite(series.values)
    values, stamps = series.values[finite], series.timestamps_ms[finite]
    if values.size == 0:
        return nothing
    if counter.kind is CounterKind.PER_CYCLE:
        units = np.clip(values, 0, None)
    else:
        before = np.concatenate([[values[0] if last is None else last], values[:-1]])
        units = values - before
        # A smaller total is a reset: the counter started again from zero.
        units = np.where(units < 0, values, units)
    counted = units > 0
    return stamps[counted], units[counted]


def _last_value(
    counter: CountSignal | None, fresh: Mapping[str, Series], last: float | None
) -> float | None:
    if counter is None or counter.kind is not CounterKind.TOTAL or counter.signal not in fresh:
        return last
    values = fresh[counter.signal].values
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if finite.size else last


# -- time by minute --------------------------------------------------------------

MINUTE_FIELDS = (
    "running_s",
    "idle_s",
    "down_s",
    "setup_s",
    "planned_stop_s",
    "small_stop_s",
    "good",
    "scrap",
    "startup_scrap",
    "ideal_s",
)
_SECONDS_FIELD = {
    "running": "running_s",
    "idle": "idle_s",
    "down": "down_s",
    "setup": "setup_s",
    "planned_stop": "planned_stop_s",
    SMALL_STOP: "small_stop_s",
}


def by_minute(
    segments: Iterable[Segment],
    counts: Counts,
    *,
    ideal_cycle_s: float,
) -> dict[int, dict[str, float]]:
    """Each minute's additions (minute start in ms -> field -> amount);
    ``ideal_cycle_s`` is the ideal seconds per unit of what was counted."""
    minutes: dict[int, dict[str, float]] = {}
    for segment in segments:
        start = segment.start_ms
        name = _SECONDS_FIELD[segment.category]
        while start < segment.end_ms:
            minute = start - start % MINUTE_MS
            end = min(segment.end_ms, minute + MINUTE_MS)
            row = minutes.setdefault(minute, {})
            row[name] = row.get(name, 0.0) + (end - start) / 1000
            start = end
    if len(counts):
        starts, groups = np.unique(counts.at_ms - counts.at_ms % MINUTE_MS, return_inverse=True)
        sums = {
            name: np.bincount(groups, weights=values, minlength=starts.size)
            for name, values in (
                ("good", counts.good),
                ("scrap", counts.scrap),
                ("startup_scrap", counts.startup_scrap),
            )
        }
        for index, minute in enumerate(starts.tolist()):
            row = minutes.setdefault(minute, {})
            for name, summed in sums.items():
                row[name] = row.get(name, 0.0) + float(summed[index])
            produced = float(sums["good"][index] + sums["scrap"][index])
            row["ideal_s"] = row.get("ideal_s", 0.0) + produced * ideal_cycle_s
    return minutes
