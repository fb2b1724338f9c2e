"""The factory calendar: when a plant plans to produce.

A calendar holds weekly shift patterns in the plant's local wall time. Turning
them into absolute time goes through the plant's zone, so daylight-saving
changes shape the shifts: the night shift 22:00-06:00 lasts 7 hours on the night
the clocks go forward and 9 hours on the night they go back.

Local times are read the way ``zoneinfo`` reads them with ``fold=0``: a time in
the spring-forward gap moves forward by the gap (02:30 becomes 03:30), an
ambiguous time in the fall-back overlap is its first occurrence. A time moved
out of the gap can land after a later time of the same night (a shift ending
at 02:30 moves to 03:30, the next one starts at 03:00); the earlier span then
ends where the later one starts, so shifts and breaks never overlap in absolute
time either, and a span lying wholly inside the gap does not happen that night.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import combinations
from zoneinfo import ZoneInfo

from imcloud_core.errors import FieldViolation, InvalidArgument

DEFAULT_SMALL_STOP_THRESHOLD_S = 120
# The longest range a request may ask planned time for.
MAX_RANGE = timedelta(days=93)

SHIFTS_MAX = 50
BREAKS_MAX = 5
HOLIDAYS_MAX = 400
SHIFT_NAME_MAX = 60
SMALL_STOP_THRESHOLD_MAX_S = 3600
STARTUP_WINDOW_MAX_S = 86_400

_DAY_MINUTES = 24 * 60
_WEEK_MINUTES = 7 * _DAY_MINUTES
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class ShiftBreak:
    start: time
    end: time


@dataclass(frozen=True)
class ShiftPattern:
    name: str
    # ISO days (1 Monday .. 7 Sunday) the shift starts on.
    days_of_week: tuple[int, ...]
    start: time
    # An end at or before the start is on the next day.
    end: time
    breaks: tuple[ShiftBreak, ...]


@dataclass(frozen=True)
class Calendar:
    plant_id: str
    # The plant's IANA zone; validated with the plant, not here.
    time_zone: str
    shifts: tuple[ShiftPattern, ...]
    # Plant-local dates on which no shift starts.
    holidays: tuple[date, ...]
    small_stop_threshold_s: int = DEFAULT_SMALL_STOP_THRESHOLD_S
    startup_window_s: int = 0


@dataclass(frozen=True)
class ShiftOccurrence:
    """One shift of one day in absolute time (UTC); its breaks lie inside it."""

    name: str
    date: date
    start: datetime
    end: datetime
    breaks: tuple[Span, ...]

    @property
    def planned_busy_time_s(self) -> float:
        """Shift time minus breaks (ISO 22400-2 planned busy time), in seconds."""
        return (self.end - self.start).total_seconds() - planned_seconds(self.breaks)


def parse_clock(text: str, *, field: str) -> time:
    """A local wall time written "HH:MM" (00:00..23:59)."""
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise InvalidArgument(
            f"{field} is not a time of day",
            violations=(FieldViolation(field, 'a time of day "HH:MM", 00:00..23:59'),),
        )
    return time(int(match[1]), int(match[2]))


def checked_calendar(calendar: Calendar) -> Calendar:
    """The calendar with names stripped, days sorted and a threshold of 0 read as
    the default, or InvalidArgument naming every problem."""
    normal = dataclasses.replace(
        calendar,
        shifts=tuple(
            dataclasses.replace(
                shift, name=shift.name.strip(), days_of_week=tuple(sorted(shift.days_of_week))
            )
            for shift in calendar.shifts
        ),
        small_stop_threshold_s=calendar.small_stop_threshold_s or DEFAULT_SMALL_STOP_THRESHOLD_S,
    )
    violations = [
        *_check_shift_count(normal.shifts),
        *_check_names(normal.shifts),
        *(
            violation
            for index, shift in enumerate(normal.shifts)
            for violation in _check_shift(f"shifts[{index}]", shift)
        ),
        *_check_overlaps(normal.shifts),
        *_check_holidays(normal.holidays),
        *_check_settings(normal),
    ]
    if violations:
        raise InvalidArgument("the shift calendar is not valid", violations=tuple(violations))
    return normal


def shifts_between(calendar: Calendar, start: datetime, end: datetime) -> list[ShiftOccurrence]:
    """Every shift occurring in [start, end), earliest first, whole (not clipped)."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        return []
    zone = ZoneInfo(calendar.time_zone)
    # Two days of margin: a shift lasts at most a day (plus a DST hour), and the
    # shift after one may cut it short (see the module's note on the gap).
    first = start.astimezone(zone).date() - timedelta(days=2)
    last = end.astimezone(zone).date() + timedelta(days=2)
    planned = _planned_shifts(calendar, first, last)
    spans = [
        (_instant(wall_start, zone), _instant(wall_end, zone))
        for _, _, wall_start, wall_end in planned
    ]
    occurrences = []
    for index, shift_start, shift_end in _without_gap_overlaps(spans):
        if shift_start >= end or shift_end <= start:
            continue
        pattern, day, wall_start, _ = planned[index]
        occurrences.append(
            ShiftOccurrence(
                name=pattern.name,
                date=day,
                start=shift_start,
                end=shift_end,
                breaks=_breaks(pattern, wall_start, zone, (shift_start, shift_end)),
            )
        )
    return occurrences


def planned_windows(
    calendar: Calendar,
    start: datetime,
    end: datetime,
    downtime: Sequence[Span] = (),
) -> list[Span]:
    """The planned busy time inside [start, end): shifts minus their breaks minus
    the planned downtime, as sorted, disjoint, non-touching windows."""
    start, end = _utc(start), _utc(end)
    working: list[Span] = []
    for occurrence in shifts_between(calendar, start, end):
        cursor = occurrence.start
        for break_start, break_end in occurrence.breaks:
            working.append((cursor, break_start))
            cursor = break_end
        working.append((cursor, occurrence.end))
    clipped = _clipped(working, (start, end))
    stops = _merged(_clipped(((_utc(s), _utc(e)) for s, e in downtime), (start, end)))
    return _merged(_subtracted(clipped, stops))


def planned_seconds(windows: Sequence[Span]) -> float:
    return sum((window_end - window_start).total_seconds() for window_start, window_end in windows)


def minute_floor(moment: datetime) -> datetime:
    """The moment in UTC with seconds and microseconds dropped."""
    return _utc(moment).replace(second=0, microsecond=0)


# --- validation -------------------------------------------------------------


def _minutes(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def _length(start: time, end: time) -> int:
    """Minutes from start to end, an end at or before the start being the next day."""
    return (_minutes(end) - _minutes(start)) % _DAY_MINUTES or _DAY_MINUTES


def _clock_text(clock: time) -> str:
    return f"{clock.hour:02d}:{clock.minute:02d}"


def _check_shift_count(shifts: Sequence[ShiftPattern]) -> list[FieldViolation]:
    if len(shifts) > SHIFTS_MAX:
        return [FieldViolation("shifts", f"at most {SHIFTS_MAX} shifts")]
    return []


def _check_names(shifts: Sequence[ShiftPattern]) -> list[FieldViolation]:
    violations = []
    first_with_name: dict[str, int] = {}
    for index, shift in enumerate(shifts):
        field = f"shifts[{index}].name"
        if not shift.name:
            violations.append(FieldViolation(field, "must not be empty"))
        elif len(shift.name) > SHIFT_NAME_MAX:
            violations.append(FieldViolation(field, f"at most {SHIFT_NAME_MAX} characters"))
        elif shift.name in first_with_name:
            other = first_with_name[shift.name]
            violations.append(FieldViolation(field, f"shifts[{other}] has this name already"))
        else:
            first_with_name[shift.name] = index
    return violations


def _check_shift(prefix: str, shift: ShiftPattern) -> list[FieldViolation]:
    violations = [*_check_days(prefix, shift.days_of_week)]
    for name, clock in (("start_time", shift.start), ("end_time", shift.end)):
        violations += _check_clock(f"{prefix}.{name}", clock)
    if len(shift.breaks) > BREAKS_MAX:
        violations.append(FieldViolation(f"{prefix}.breaks", f"at most {BREAKS_MAX} breaks"))
        return violations
    offsets: dict[int, tuple[int, int]] = {}
    for index, pause in enumerate(shift.breaks):
        field = f"{prefix}.breaks[{index}]"
        clock_violations = [
            *_check_clock(f"{field}.start_time", pause.start),
            *_check_clock(f"{field}.end_time", pause.end),
        ]
        violations += clock_violations
        if clock_violations:
            continue
        if pause.start == pause.end:
            violations.append(FieldViolation(f"{field}.end_time", "must differ from start_time"))
            continue
        offset = (_minutes(pause.start) - _minutes(shift.start)) % _DAY_MINUTES
        length = _length(pause.start, pause.end)
        if offset + length > _length(shift.start, shift.end):
            violations.append(
                FieldViolation(
                    f"{field}.start_time",
                    f"the break {_clock_text(pause.start)}-{_clock_text(pause.end)} is not inside"
                    f" the shift {_clock_text(shift.start)}-{_clock_text(shift.end)}",
                )
            )
            continue
        offsets[index] = (offset, offset + length)
    for (earlier, (a_start, a_end)), (later, (b_start, b_end)) in combinations(offsets.items(), 2):
        if a_start < b_end and b_start < a_end:
            violations.append(
                FieldViolation(
                    f"{prefix}.breaks[{later}].start_time", f"overlaps {prefix}.breaks[{earlier}]"
                )
            )
    return violations


def _check_days(prefix: str, days: Sequence[int]) -> list[FieldViolation]:
    field = f"{prefix}.days_of_week"
    if not days:
        return [FieldViolation(field, "at least one day")]
    violations = [
        FieldViolation(field, f"{day} is not a day of the week (1 Monday .. 7 Sunday)")
        for day in days
        if not 1 <= day <= 7
    ]
    violations += [
        FieldViolation(field, f"{day} is given more than once")
        for day in sorted(set(days))
        if days.count(day) > 1
    ]
    return violations


def _check_clock(field: str, clock: time) -> list[FieldViolation]:
    if clock.second or clock.microsecond or clock.tzinfo is not None:
        return [FieldViolation(field, 'a local time of day in whole minutes, "HH:MM"')]
    return []


def _check_overlaps(shifts: Sequence[ShiftPattern]) -> list[FieldViolation]:
    """Overlaps of shifts on the weekly pattern, which wraps from Sunday to Monday."""
    if len(shifts) > SHIFTS_MAX:
        return []
    weekly = [
        [
            ((day - 1) * _DAY_MINUTES + _minutes(shift.start), _length(shift.start, shift.end))
            for day in sorted(set(shift.days_of_week))
            if 1 <= day <= 7
        ]
        for shift in shifts
    ]
    violations = []
    for later, shift in enumerate(shifts):
        for earlier in range(later):
            day = _day_of_overlap(weekly[earlier], weekly[later])
            if day is not None:
                other = shifts[earlier]
                violations.append(
                    FieldViolation(
                        f"shifts[{later}].start_time",
                        f"{shift.name!r} overlaps shift {other.name!r} of {_DAY_NAMES[day - 1]}"
                        f" {_clock_text(other.start)}-{_clock_text(other.end)}",
                    )
                )
    return violations


def _day_of_overlap(
    spans: Sequence[tuple[int, int]], others: Sequence[tuple[int, int]]
) -> int | None:
    """The ISO day of the first span in ``spans`` that some span of ``others``
    overlaps; spans are (minute of the week, minutes long)."""
    for start, length in spans:
        for other_start, other_length in others:
            for wrap in (-_WEEK_MINUTES, 0, _WEEK_MINUTES):
                shifted = other_start + wrap
                if start < shifted + other_length and shifted < start + length:
                    return start // _DAY_MINUTES + 1
    return None


def _check_holidays(holidays: Sequence[date]) -> list[FieldViolation]:
    if len(holidays) > HOLIDAYS_MAX:
        return [FieldViolation("holidays", f"at most {HOLIDAYS_MAX} holidays")]
    violations = []
    first_index: dict[date, int] = {}
    for index, holiday in enumerate(holidays):
        if holiday in first_index:
            violations.append(
                FieldViolation(
                    f"holidays[{index}]", f"the same day as holidays[{first_index[holiday]}]"
                )
            )
        else:
            first_index[holiday] = index
    return violations


def _check_settings(calendar: Calendar) -> list[FieldViolation]:
    violations = []
    if not 1 <= calendar.small_stop_threshold_s <= SMALL_STOP_THRESHOLD_MAX_S:
        violations.append(
            FieldViolation(
                "small_stop_threshold_s",
                f"1..{SMALL_STOP_THRESHOLD_MAX_S} seconds, 0 for the default",
            )
        )
    if not 0 <= calendar.startup_window_s <= STARTUP_WINDOW_MAX_S:
        violations.append(FieldViolation("startup_window_s", f"0..{STARTUP_WINDOW_MAX_S} seconds"))
    return violations


# --- absolute time ----------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment} has no time zone")
    return moment.astimezone(UTC)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """A naive local wall time as UTC, read with fold=0 (see the module's note)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _planned_shifts(
    calendar: Calendar, first: date, last: date
) -> list[tuple[ShiftPattern, date, datetime, datetime]]:
    """(pattern, day, local wall start, local wall end) of each shift starting on a
    day in [first, last] that is no holiday, in wall-clock order."""
    holidays = set(calendar.holidays)
    planned = []
    day = first
    while day <= last:
        if day not in holidays:
            for pattern in calendar.shifts:
                if day.isoweekday() in pattern.days_of_week:
                    wall_start = datetime.combine(day, pattern.start)
                    wall_end = wall_start + timedelta(minutes=_length(pattern.start, pattern.end))
                    planned.append((pattern, day, wall_start, wall_end))
        day += timedelta(days=1)
    planned.sort(key=lambda shift: shift[2])
    return planned


def _breaks(
    pattern: ShiftPattern, wall_start: datetime, zone: ZoneInfo, shift: Span
) -> tuple[Span, ...]:
    """The pattern's breaks in the shift starting at ``wall_start``, in absolute time."""
    walls = sorted(
        (
            wall_start
            + timedelta(minutes=(_minutes(pause.start) - _minutes(pattern.start)) % _DAY_MINUTES),
            _length(pause.start, pause.end),
        )
        for pause in pattern.breaks
    )
    spans = [
        (_instant(wall, zone), _instant(wall + timedelta(minutes=length), zone))
        for wall, length in walls
    ]
    return tuple(_clipped(((s, e) for _, s, e in _without_gap_overlaps(spans)), shift))


def _without_gap_overlaps(spans: Sequence[Span]) -> list[tuple[int, datetime, datetime]]:
    """(index, start, end) of the spans that remain when each span, given in
    wall-clock order, ends at the latest where the next one starts; spans left
    empty are dropped. Only times moved out of a DST gap make spans overlap."""
    kept: list[tuple[int, datetime, datetime]] = []
    for index, (start, end) in enumerate(spans):
        if end <= start:
            continue
        while kept and kept[-1][2] > start:
            earlier, earlier_start, _ = kept.pop()
            if earlier_start < start:
                kept.append((earlier, earlier_start, start))
                break
        kept.append((index, start, end))
    return kept


def _clipped(spans: Iterable[Span], bounds: Span) -> list[Span]:
    low, high = bounds
    clipped = ((max(start, low), min(end, high)) for start, end in spans)
    return [(start, end) for start, end in clipped if start < end]


def _merged(spans: Iterable[Span]) -> list[Span]:
    """The union of the spans, sorted, with touching spans joined."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtracted(spans: Sequence[Span], holes: Sequence[Span]) -> list[Span]:
    """Sorted disjoint ``spans`` minus sorted disjoint ``holes``."""
    remaining: list[Span] = []
    hole_index = 0
    for start, end in spans:
        cursor = start
        while hole_index < len(holes) and holes[hole_index][1] <= cursor:
            hole_index += 1
        probe = hole_index
        while probe < len(holes) and holes[probe][0] < end:
            hole_start, hole_end = holes[probe]
            if hole_start > cursor:
                remaining.append((cursor, hole_start))
            cursor = hole_end
            probe += 1
        if cursor < end:
            remaining.append((cursor, end))
    return remaining


# --- calendars over time ------------------------------------------------------


@dataclass(frozen=True)
class CalendarHistory:
    """A plant's calendars, each in force from its effective time until the next
    one's; before the first there is no planned time."""

    versions: tuple[tuple[datetime, Calendar], ...] = ()

    @property
    def latest(self) -> Calendar | None:
        return self.versions[-1][1] if self.versions else None

    def pieces(self, start: datetime, end: datetime) -> list[tuple[Calendar, datetime, datetime]]:
        """[start, end) cut where the calendar in force changes."""
        start, end = _utc(start), _utc(end)
        pieces = []
        for index, (effective, calendar) in enumerate(self.versions):
            until = self.versions[index + 1][0] if index + 1 < len(self.versions) else end
            piece_start, piece_end = max(start, effective), min(end, until)
            if piece_start < piece_end:
                pieces.append((calendar, piece_start, piece_end))
        return pieces


def history_windows(
    history: CalendarHistory, start: datetime, end: datetime, downtime: Sequence[Span] = ()
) -> list[Span]:
    """``planned_windows`` with each calendar over the time it was in force."""
    windows = [
        window
        for calendar, piece_start, piece_end in history.pieces(start, end)
        for window in planned_windows(calendar, piece_start, piece_end, downtime)
    ]
    return _merged(windows)


def history_shifts(
    history: CalendarHistory, start: datetime, end: datetime
) -> list[ShiftOccurrence]:
    """The shifts overlapping [start, end), each of the calendar in force when it starts."""
    occurrences = []
    for index, (effective, calendar) in enumerate(history.versions):
        until = history.versions[index + 1][0] if index + 1 < len(history.versions) else None
        for occurrence in shifts_between(calendar, start, end):
            if occurrence.start >= effective and (until is None or occurrence.start < until):
                occurrences.append(occurrence)
    return sorted(occurrences, key=lambda o: o.start)
