"""The factory calendar: shift patterns checked, then laid into absolute time
through the plant's zone, daylight-saving changes included."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imcloud_core.errors import InvalidArgument
from imcloud_production.domain.calendar import (
    DEFAULT_SMALL_STOP_THRESHOLD_S,
    Calendar,
    ShiftBreak,
    ShiftOccurrence,
    ShiftPattern,
    checked_calendar,
    minute_floor,
    parse_clock,
    planned_seconds,
    planned_windows,
    shifts_between,
)

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = (1, 2, 3, 4, 5)
EVERY_DAY = (1, 2, 3, 4, 5, 6, 7)
HOUR_S = 3600.0


def clock(text: str) -> time:
    return parse_clock(text, field="clock")


def shift(
    name: str,
    start: str,
    end: str,
    days: tuple[int, ...] = WEEKDAYS,
    breaks: Sequence[tuple[str, str]] = (),
) -> ShiftPattern:
    return ShiftPattern(
        name=name,
        days_of_week=days,
        start=clock(start),
        end=clock(end),
        breaks=tuple(ShiftBreak(clock(s), clock(e)) for s, e in breaks),
    )


def calendar(
    *shifts: ShiftPattern, zone: str = "Europe/Berlin", holidays: tuple[date, ...] = ()
) -> Calendar:
    return Calendar(plant_id="plant-1", time_zone=zone, shifts=shifts, holidays=holidays)


def three_shifts(holidays: tuple[date, ...] = ()) -> Calendar:
    return checked_calendar(
        calendar(
            shift("early", "06:00", "14:00", breaks=[("10:00", "10:30")]),
            shift("late", "14:00", "22:00"),
            shift("night", "22:00", "06:00"),
            holidays=holidays,
        )
    )


def berlin(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def refusal(candidate: Calendar) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as refused:
        checked_calendar(candidate)
    return {violation.field: violation.reason for violation in refused.value.violations}


def duration_h(occurrence: ShiftOccurrence) -> float:
    return (occurrence.end - occurrence.start).total_seconds() / HOUR_S


# --- examples: planned time -------------------------------------------------

MONDAY = date(2025, 5, 12)  # summer time: Berlin is UTC+2


def test_a_berlin_monday_has_early_late_and_night_shift_in_order_with_the_break() -> None:
    shifts = shifts_between(three_shifts(), berlin(MONDAY), berlin(MONDAY + timedelta(days=1)))

    assert [(s.name, s.date, s.start, s.end) for s in shifts] == [
        ("early", MONDAY, utc(2025, 5, 12, 4), utc(2025, 5, 12, 12)),
        ("late", MONDAY, utc(2025, 5, 12, 12), utc(2025, 5, 12, 20)),
        ("night", MONDAY, utc(2025, 5, 12, 20), utc(2025, 5, 13, 4)),
    ]
    assert shifts[0].breaks == ((utc(2025, 5, 12, 8), utc(2025, 5, 12, 8, 30)),)
    assert [s.planned_busy_time_s / HOUR_S for s in shifts] == [7.5, 8.0, 8.0]


def test_planned_windows_leave_out_the_break_and_join_shifts_that_touch() -> None:
    windows = planned_windows(three_shifts(), berlin(MONDAY), berlin(MONDAY + timedelta(days=1)))

    # Midnight of Monday: the Sunday night shift does not exist (Mon-Fri only).
    assert windows == [
        (utc(2025, 5, 12, 4), utc(2025, 5, 12, 8)),
        (utc(2025, 5, 12, 8, 30), utc(2025, 5, 12, 22)),
    ]


def test_a_working_week_plans_five_times_three_shifts() -> None:
    windows = planned_windows(three_shifts(), berlin(MONDAY), berlin(MONDAY + timedelta(days=7)))

    assert planned_seconds(windows) == 5 * (7.5 + 8 + 8) * HOUR_S


def test_planned_downtime_cuts_a_window_and_counts_only_where_production_was_planned() -> None:
    downtime = [
        (berlin(MONDAY, 11), berlin(MONDAY, 12)),
        # Over the break and past the end of the range: only planned time is taken.
        (berlin(MONDAY, 10, 15), berlin(MONDAY, 10, 45)),
        (berlin(MONDAY, 23, 30), berlin(MONDAY + timedelta(days=1), 2)),
    ]

    windows = planned_windows(
        three_shifts(), berlin(MONDAY, 6), berlin(MONDAY + timedelta(days=1)), downtime
    )

    assert windows == [
        (utc(2025, 5, 12, 4), utc(2025, 5, 12, 8)),
        (utc(2025, 5, 12, 8, 45), utc(2025, 5, 12, 9)),
        (utc(2025, 5, 12, 10), utc(2025, 5, 12, 21, 30)),
    ]


def test_a_holiday_removes_the_shifts_starting_that_day_only() -> None:
    wednesday = MONDAY + timedelta(days=2)
    shifts = shifts_between(
        three_shifts(holidays=(wednesday,)),
        berlin(wednesday - timedelta(days=1), 12),
        berlin(wednesday + timedelta(days=1), 15),
    )

    # Tuesday's night shift runs into the holiday: it belongs to Tuesday.
    assert [(s.date.day, s.name) for s in shifts] == [
        (13, "early"),
        (13, "late"),
        (13, "night"),
        (15, "early"),
        (15, "late"),
    ]


def test_the_night_shift_lasts_7_hours_when_clocks_go_forward_and_9_when_back() -> None:
    nights = checked_calendar(calendar(shift("night", "22:00", "06:00", EVERY_DAY)))

    spring = shifts_between(nights, berlin(date(2025, 3, 28), 12), berlin(date(2025, 3, 31), 12))
    autumn = shifts_between(nights, berlin(date(2025, 10, 24), 12), berlin(date(2025, 10, 27), 12))

    assert [(s.date.day, duration_h(s)) for s in spring] == [(28, 8), (29, 7), (30, 8)]
    assert [(s.date.day, duration_h(s)) for s in autumn] == [(24, 8), (25, 9), (26, 8)]
    assert spring[1].end == utc(2025, 3, 30, 4)
    assert autumn[1].end == utc(2025, 10, 26, 5)


def test_the_weeks_of_the_dst_changes_plan_one_hour_less_and_one_more() -> None:
    nights = checked_calendar(calendar(shift("night", "22:00", "06:00", EVERY_DAY)))

    def week_of(sunday: date) -> float:
        monday = sunday - timedelta(days=6)
        return planned_seconds(
            planned_windows(nights, berlin(monday, 6), berlin(monday + timedelta(days=7), 6))
        )

    assert week_of(date(2025, 3, 30)) == (7 * 8 - 1) * HOUR_S
    assert week_of(date(2025, 10, 26)) == (7 * 8 + 1) * HOUR_S


def test_lord_howe_moves_its_clocks_by_half_an_hour() -> None:
    nights = checked_calendar(
        calendar(shift("night", "22:00", "06:00", EVERY_DAY), zone="Australia/Lord_Howe")
    )
    lord_howe = ZoneInfo("Australia/Lord_Howe")

    def night_of(day: date) -> float:
        evening = datetime.combine(day, time(23), tzinfo=lord_howe)
        (occurrence,) = shifts_between(nights, evening, evening + timedelta(minutes=1))
        return duration_h(occurrence)

    assert night_of(date(2025, 10, 4)) == 7.5
    assert night_of(date(2025, 4, 5)) == 8.5
    assert night_of(date(2025, 7, 5)) == 8


def test_a_time_in_the_spring_gap_moves_forward_and_an_ambiguous_one_is_the_first() -> None:
    early = checked_calendar(calendar(shift("early", "02:30", "10:00", EVERY_DAY)))

    (spring,) = shifts_between(early, utc(2025, 3, 30, 1), utc(2025, 3, 30, 2))
    (autumn,) = shifts_between(early, utc(2025, 10, 26, 1), utc(2025, 10, 26, 2))

    assert spring.start == utc(2025, 3, 30, 1, 30)  # 03:30 summer time
    assert autumn.start == utc(2025, 10, 26, 0, 30)  # 02:30 summer time, not winter time
    assert (duration_h(spring), duration_h(autumn)) == (6.5, 8.5)


def test_a_shift_ending_in_the_spring_gap_ends_where_the_next_one_starts() -> None:
    plan = checked_calendar(
        calendar(
            shift("night", "22:00", "02:30", EVERY_DAY),
            shift("dawn", "03:00", "06:00", EVERY_DAY),
            shift("ghost", "02:35", "02:55", EVERY_DAY),
        )
    )

    shifts = shifts_between(plan, berlin(date(2025, 3, 29), 12), berlin(date(2025, 3, 30), 12))

    # 02:30 would be 03:30 summer time, after dawn's start; the ghost shift lies
    # wholly in the hour that does not exist that night.
    assert [(s.name, s.start, s.end) for s in shifts] == [
        ("night", utc(2025, 3, 29, 21), utc(2025, 3, 30, 1)),
        ("dawn", utc(2025, 3, 30, 1), utc(2025, 3, 30, 4)),
    ]
    # The same when the range ends before the day of the shift that cuts it.
    (night,) = shifts_between(plan, berlin(date(2025, 3, 29), 22), berlin(date(2025, 3, 29), 23))
    assert night.end == utc(2025, 3, 30, 1)


def test_minute_floor_drops_seconds_in_utc() -> None:
    moment = datetime(2025, 5, 12, 10, 15, 59, 999_999, tzinfo=BERLIN)

    assert minute_floor(moment) == utc(2025, 5, 12, 8, 15)
    with pytest.raises(ValueError, match="no time zone"):
        minute_floor(datetime(2025, 5, 12, 10, 15))


# --- examples: checking a calendar -------------------------------------------


@pytest.mark.parametrize("text", ["00:00", "07:05", "23:59"])
def test_a_clock_time_is_hours_and_minutes(text: str) -> None:
    parsed = parse_clock(text, field="shifts[0].start_time")

    assert f"{parsed.hour:02d}:{parsed.minute:02d}" == text


@pytest.mark.parametrize("text", ["24:00", "7:00", "07:60", "0700", "07:00:00", "", " 07:00"])
def test_anything_else_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_clock(text, field="shifts[1].end_time")

    assert [v.field for v in refused.value.violations] == ["shifts[1].end_time"]


def test_a_valid_calendar_comes_back_normalised() -> None:
    checked = checked_calendar(
        Calendar(
            plant_id="plant-1",
            time_zone="Europe/Berlin",
            shifts=(shift(" early ", "06:00", "14:00", days=(3, 1, 2)),),
            holidays=(date(2025, 12, 25),),
            small_stop_threshold_s=0,
        )
    )

    assert checked.shifts[0].name == "early"
    assert checked.shifts[0].days_of_week == (1, 2, 3)
    assert checked.small_stop_threshold_s == DEFAULT_SMALL_STOP_THRESHOLD_S


def test_shifts_of_the_same_day_may_not_overlap() -> None:
    violations = refusal(
        calendar(shift("early", "06:00", "14:00"), shift("late", "13:30", "22:00"))
    )

    assert list(violations) == ["shifts[1].start_time"]
    assert "'early'" in violations["shifts[1].start_time"]


def test_a_night_shift_may_not_run_into_the_next_morning_s_shift() -> None:
    violations = refusal(
        calendar(shift("night", "22:00", "06:00", days=(1,)), shift("early", "05:00", "13:00"))
    )

    assert list(violations) == ["shifts[1].start_time"]
    assert "'night'" in violations["shifts[1].start_time"]


def test_the_sunday_night_shift_may_not_run_into_monday_s_early_shift() -> None:
    violations = refusal(
        calendar(
            shift("early", "05:30", "13:30", days=(1,)),
            shift("sunday night", "22:00", "06:00", days=(7,)),
        )
    )

    assert list(violations) == ["shifts[1].start_time"]
    assert "'early'" in violations["shifts[1].start_time"]


def test_shifts_that_only_touch_are_fine_even_where_dst_would_shift_them() -> None:
    checked_calendar(
        calendar(
            shift("early", "06:00", "14:00", EVERY_DAY),
            shift("late", "14:00", "22:00", EVERY_DAY),
            shift("night", "22:00", "02:00", EVERY_DAY),
            shift("dawn", "02:00", "06:00", EVERY_DAY),
        )
    )


@pytest.mark.parametrize(
    ("hours", "pause"),
    [
        (("06:00", "14:00"), ("06:00", "06:30")),
        (("06:00", "14:00"), ("13:30", "14:00")),
        (("22:00", "06:00"), ("23:45", "00:15")),
        (("22:00", "06:00"), ("22:00", "00:00")),
        (("22:00", "06:00"), ("05:00", "06:00")),
    ],
)
def test_a_break_may_reach_the_edges_of_its_shift_and_follow_midnight(
    hours: tuple[str, str], pause: tuple[str, str]
) -> None:
    checked_calendar(calendar(shift("s", *hours, breaks=[pause])))


@pytest.mark.parametrize(
    ("hours", "pause"),
    [
        (("06:00", "14:00"), ("05:59", "06:30")),
        (("06:00", "14:00"), ("13:31", "14:01")),
        (("06:00", "14:00"), ("14:00", "14:30")),
        (("22:00", "06:00"), ("06:00", "06:15")),
        (("22:00", "06:00"), ("21:45", "22:15")),
    ],
)
def test_a_break_outside_its_shift_is_refused(
    hours: tuple[str, str], pause: tuple[str, str]
) -> None:
    violations = refusal(calendar(shift("s", *hours, breaks=[pause])))

    assert list(violations) == ["shifts[0].breaks[0].start_time"]


def test_breaks_may_not_overlap() -> None:
    violations = refusal(
        calendar(
            shift("early", "06:00", "14:00", breaks=[("09:15", "09:30"), ("09:00", "09:15")]),
            shift("late", "14:00", "22:00", breaks=[("18:00", "18:30"), ("18:15", "18:45")]),
        )
    )

    assert list(violations) == ["shifts[1].breaks[1].start_time"]
    assert "breaks[0]" in violations["shifts[1].breaks[1].start_time"]


def test_every_problem_is_named_by_its_field() -> None:
    violations = refusal(
        Calendar(
            plant_id="plant-1",
            time_zone="UTC",
            shifts=(
                shift("early", "06:00", "14:00", days=()),
                shift("", "14:00", "15:00", days=(8,)),
                shift("early", "16:00", "17:00", days=(2, 2)),
                shift("x" * 61, "18:00", "19:00", breaks=[("18:10", "18:10")]),
            ),
            holidays=(date(2025, 1, 1), date(2025, 12, 25), date(2025, 1, 1)),
            small_stop_threshold_s=3601,
            startup_window_s=-1,
        )
    )

    assert set(violations) == {
        "shifts[0].days_of_week",
        "shifts[1].name",
        "shifts[1].days_of_week",
        "shifts[2].name",
        "shifts[2].days_of_week",
        "shifts[3].name",
        "shifts[3].breaks[0].end_time",
        "holidays[2]",
        "small_stop_threshold_s",
        "startup_window_s",
    }


def test_sizes_are_bounded() -> None:
    many_breaks = [(f"0{h}:00", f"0{h}:10") for h in range(1, 7)]
    violations = refusal(
        calendar(
            *(shift(f"s{i}", "00:00", "00:01", days=(1,)) for i in range(51)),
            holidays=tuple(date(2025, 1, 1) + timedelta(days=d) for d in range(401)),
        )
    )
    assert {"shifts", "holidays"} <= set(violations)

    violations = refusal(calendar(shift("long", "00:00", "12:00", breaks=many_breaks)))
    assert list(violations) == ["shifts[0].breaks"]


# --- properties over random calendars -----------------------------------------

ZONES = ("America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "UTC")
# Near the DST changes of 2025 in these zones, and one quiet day.
ANCHORS = tuple(
    utc(2025, month, day)
    for month, day in ((3, 9), (3, 30), (4, 6), (7, 1), (10, 5), (10, 26), (11, 2))
)
DAY_MINUTES = 1440
PROPERTIES = settings(max_examples=200, deadline=None)


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    """Valid by construction: shifts are disjoint arcs of the 24-hour circle, so
    no choice of days can make them overlap; breaks are disjoint inside them."""
    count = draw(st.integers(1, 4))
    points = sorted(
        draw(st.sets(st.integers(0, DAY_MINUTES), min_size=2 * count, max_size=2 * count))
    )
    offset = draw(st.integers(0, DAY_MINUTES - 1))
    shifts = []
    for index in range(count):
        first, last = points[2 * index], points[2 * index + 1]
        break_count = draw(st.integers(0, min(2, (last - first) // 2)))
        cuts = sorted(
            draw(
                st.sets(
                    # A break is shorter than a day, even in a shift of 24 hours.
                    st.integers(first, min(last, first + DAY_MINUTES - 1)),
                    min_size=2 * break_count,
                    max_size=2 * break_count,
                )
            )
        )
        shifts.append(
            ShiftPattern(
                name=f"shift {index}",
                days_of_week=tuple(sorted(draw(st.sets(st.integers(1, 7), min_size=1)))),
                start=clock_at(offset + first),
                end=clock_at(offset + last),
                breaks=tuple(
                    ShiftBreak(clock_at(offset + cuts[2 * b]), clock_at(offset + cuts[2 * b + 1]))
                    for b in range(break_count)
                ),
            )
        )
    return Calendar(
        plant_id="plant-1",
        time_zone=draw(st.sampled_from(ZONES)),
        shifts=tuple(shifts),
        holidays=tuple(draw(st.sets(st.dates(date(2025, 2, 20), date(2025, 11, 20)), max_size=3))),
    )


def minute_of_day(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def clock_at(minute: int) -> time:
    minute %= DAY_MINUTES
    return time(minute // 60, minute % 60)


@st.composite
def ranges(draw: st.DrawFn) -> tuple[datetime, datetime]:
    start = draw(st.sampled_from(ANCHORS)) + timedelta(
        minutes=draw(st.integers(-4 * DAY_MINUTES, 4 * DAY_MINUTES))
    )
    return start, start + timedelta(minutes=draw(st.integers(0, 5 * DAY_MINUTES)))


def downtimes(
    plan: Calendar, bounds: tuple[datetime, datetime]
) -> st.SearchStrategy[list[tuple[datetime, datetime]]]:
    """Downtime anywhere around the range, or starting next to a shift's or a
    break's start or end, where cutting windows has its edge cases."""
    start, end = bounds
    span = int((end - start).total_seconds() // 60)
    anywhere = st.integers(-DAY_MINUTES, span + DAY_MINUTES).map(
        lambda m: start + timedelta(minutes=m)
    )
    zone = ZoneInfo(plan.time_zone)
    clocks = sorted(
        {
            c
            for p in plan.shifts
            for c in (p.start, p.end, *(t for b in p.breaks for t in (b.start, b.end)))
        }
    )
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    near_a_clock = st.builds(
        lambda day, clock, nudge: (
            datetime.combine(first_day + timedelta(days=day), clock, tzinfo=zone).astimezone(UTC)
            + timedelta(minutes=nudge)
        ),
        st.integers(0, span // DAY_MINUTES + 2),
        st.sampled_from(clocks),
        st.integers(-2, 2),
    )
    length = st.integers(1, 600).map(lambda m: timedelta(minutes=m))
    return st.lists(
        st.tuples(st.one_of(anywhere, near_a_clock), length).map(lambda d: (d[0], d[0] + d[1])),
        max_size=3,
    )


def minutes_of(spans: Iterable[tuple[datetime, datetime]]) -> set[int]:
    return {
        minute
        for start, end in spans
        for minute in range(int(start.timestamp()) // 60, int(end.timestamp()) // 60)
    }


@settings(PROPERTIES, max_examples=100)
@given(calendars())
def test_calendars_built_without_overlaps_are_accepted_as_they_are(plan: Calendar) -> None:
    assert checked_calendar(plan) == plan


@settings(PROPERTIES, max_examples=100)
@given(calendars(), st.data())
def test_a_copy_moved_inside_a_shift_is_refused_naming_the_copy(
    plan: Calendar, data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(plan.shifts))
    start = minute_of_day(original.start)
    length = (minute_of_day(original.end) - start) % DAY_MINUTES or DAY_MINUTES
    start += data.draw(st.integers(0, length - 1))
    # Moved past midnight, the copy starts on the next day of the week.
    day = (original.days_of_week[0] - 1 + start // DAY_MINUTES) % 7 + 1
    copy = ShiftPattern(
        name="copy",
        days_of_week=(day,),
        start=clock_at(start),
        end=clock_at(start + 1),
        breaks=(),
    )

    violations = refusal(Calendar(plan.plant_id, plan.time_zone, (*plan.shifts, copy), ()))

    assert list(violations) == [f"shifts[{len(plan.shifts)}].start_time"]


@PROPERTIES
@given(calendars(), ranges(), st.data())
def test_planned_windows_are_the_shifts_minus_breaks_and_downtime(
    plan: Calendar, bounds: tuple[datetime, datetime], data: st.DataObject
) -> None:
    start, end = bounds
    downtime = data.draw(downtimes(plan, bounds))

    shifts = shifts_between(plan, start, end)
    windows = planned_windows(plan, start, end, downtime)

    for earlier, later in pairwise(shifts):
        assert earlier.end <= later.start
    for occurrence in shifts:
        assert occurrence.start < end
        assert occurrence.end > start
        assert occurrence.date not in plan.holidays
        for break_start, break_end in occurrence.breaks:
            assert occurrence.start <= break_start < break_end <= occurrence.end
    for window_start, window_end in windows:
        assert start <= window_start < window_end <= end
        assert window_start.second == window_end.second == 0
    for earlier_window, later_window in pairwise(windows):
        assert earlier_window[1] < later_window[0]
    window_minutes = minutes_of(windows)
    pauses = minutes_of(b for s in shifts for b in s.breaks)
    stops = minutes_of(downtime)
    assert not window_minutes & (pauses | stops)
    in_range = minutes_of([(start, end)])
    expected = sum(
        len((minutes_of([(s.start, s.end)]) & in_range) - pauses - stops) for s in shifts
    )
    assert planned_seconds(windows) == 60 * expected


@PROPERTIES
@given(calendars(), ranges(), st.data())
def test_splitting_a_range_in_two_keeps_the_total(
    plan: Calendar, bounds: tuple[datetime, datetime], data: st.DataObject
) -> None:
    start, end = bounds
    downtime = data.draw(downtimes(plan, bounds))
    minutes = int((end - start).total_seconds() // 60)
    middle = start + timedelta(minutes=data.draw(st.integers(0, minutes)))

    whole = planned_seconds(planned_windows(plan, start, end, downtime))
    halves = planned_seconds(planned_windows(plan, start, middle, downtime)) + planned_seconds(
        planned_windows(plan, middle, end, downtime)
    )

    assert whole == halves


@PROPERTIES
@given(calendars(), ranges())
def test_shifts_start_on_their_days_and_last_their_length_give_or_take_dst(
    plan: Calendar, bounds: tuple[datetime, datetime]
) -> None:
    zone = ZoneInfo(plan.time_zone)
    patterns = {pattern.name: pattern for pattern in plan.shifts}

    for occurrence in shifts_between(plan, *bounds):
        pattern = patterns[occurrence.name]
        wall_start = datetime.combine(occurrence.date, pattern.start)
        wall_end = datetime.combine(occurrence.date, pattern.end)
        if wall_end <= wall_start:
            wall_end += timedelta(days=1)
        wall_hours = (wall_end - wall_start).total_seconds() / HOUR_S
        assert occurrence.date.isoweekday() in pattern.days_of_week
        if plan.time_zone in ("UTC", "Asia/Kolkata"):
            assert occurrence.start == wall_start.replace(tzinfo=zone)
            assert duration_h(occurrence) == wall_hours
        else:
            assert abs(duration_h(occurrence) - wall_hours) <= 1
            assert abs(occurrence.start - wall_start.replace(tzinfo=zone)) <= timedelta(hours=1)
