"""Use cases that follow what the machines do: state timelines, stops and their
reasons, counts for work orders, and OEE over any scope and range."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from imcloud_core.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound
from imcloud_core.ids import new_id
from imcloud_core.paging import page_size
from imcloud_production.domain import calendar as calendars
from imcloud_production.domain import floor
from imcloud_production.domain.calendar import Calendar, CalendarHistory
from imcloud_production.domain.catalog import EquipmentState, StateMapping
from imcloud_production.domain.events import DowntimeChanged
from imcloud_production.domain.execution import (
    Downtime,
    DowntimeReason,
    Placement,
    PlannedDowntime,
    Reclassified,
    built_in_reasons,
)
from imcloud_production.domain.model import Plant, Station, not_found
from imcloud_production.domain.oee import (
    Figures,
    Totals,
    figures,
    overlap_s,
    planned_minutes,
)
from imcloud_production.domain.planning import all_stations, checked_range, history_of
from imcloud_production.domain.ports import EquipmentDirectory, ExecutionUnitOfWork, MinutesOf
from imcloud_production.domain.tracking import (
    SMALL_STOP,
    STOPS,
    Interval,
    Progress,
    Rules,
    Series,
    Track,
    advance,
    by_minute,
)

OEE_RANGE_MAX = timedelta(days=93)
TIMELINE_RANGE_MAX = timedelta(days=31)
TIMELINE_LIMIT = 10_000
DAY_MS = 86_400_000
# Reads of a station's counted time tried while machines' batches keep landing
# between them; past this the last read stands.
CONSISTENT_READ_ATTEMPTS = 5
REASON_CODE = re.compile(r"[a-z0-9_.-]{1,50}")
_FIELD_OF_STATE = {
    "running": "running_s",
    "idle": "idle_s",
    "down": "down_s",
    "setup": "setup_s",
    "planned_stop": "planned_stop_s",
    SMALL_STOP: "small_stop_s",
}


@dataclass(frozen=True)
class MachineBatch:
    tenant_id: str
    equipment_id: str
    points: Mapping[str, Series]


@dataclass(frozen=True)
class TimelineEntry:
    """A machine's state over [start_ms, end_ms); end_ms None while it lasts."""

    equipment_id: str
    state: EquipmentState
    start_ms: int
    end_ms: int | None


@dataclass(frozen=True)
class Recorded:
    """What one call of ``record_machine_data`` did, for metrics."""

    batches: int
    unmapped: int
    late_points: int


# -- placements ------------------------------------------------------------------------


def place_equipment(uow: ExecutionUnitOfWork, placement: Placement) -> None:
    with uow:
        uow.placements.place(placement)


def remove_equipment(uow: ExecutionUnitOfWork, *, equipment_id: str) -> None:
    with uow:
        uow.placements.remove(equipment_id=equipment_id)


# -- machine data -----------------------------------------------------------------------


class _Lookups:
    """What a batch of machine data needs, read once per call."""

    def __init__(self, uow: ExecutionUnitOfWork) -> None:
        self.uow = uow
        self._stations: dict[str, Station | None] = {}
        self._plants: dict[str, Plant | None] = {}
        self._histories: dict[str, CalendarHistory] = {}
        self._booked: dict[tuple[str, int, int], list[PlannedDowntime]] = {}
        self._windows: dict[tuple[object, ...], list[tuple[int, int]]] = {}
        self._minutes: dict[tuple[object, ...], set[int]] = {}
        self._mappings: dict[str, StateMapping | None] = {}

    def station(self, tenant_id: str, station_id: str) -> Station | None:
        if station_id not in self._stations:
            self._stations[station_id] = self.uow.stations.get(
                tenant_id=tenant_id, resource_id=station_id
            )
        return self._stations[station_id]

    def history(self, station: Station) -> CalendarHistory | None:
        if station.plant_id not in self._histories:
            plant = self.uow.plants.get(tenant_id=station.tenant_id, resource_id=station.plant_id)
            if plant is None:
                return None
            self._histories[station.plant_id] = history_of(self.uow, plant)
        return self._histories[station.plant_id]

    def calendar(self, station: Station) -> Calendar | None:
        """The calendar set last: its threshold and start-up window apply now."""
        history = self.history(station)
        if history is None:
            return None
        return history.latest or Calendar(station.plant_id, "UTC", (), ())

    def mapping(self, placement: Placement) -> StateMapping | None:
        model = placement.equipment_model_id
        if model not in self._mappings:
            self._mappings[model] = self.uow.state_mappings.get(
                tenant_id=placement.tenant_id, equipment_model_id=model
            )
        return self._mappings[model]

    def planned_minutes(self, station: Station, start_ms: int, end_ms: int) -> set[int]:
        """The minute starts of the station's planned time in [start_ms, end_ms)."""
        key = self._key(station, start_ms, end_ms)
        if key not in self._minutes:
            self._minutes[key] = planned_minutes(self.windows_ms(station, start_ms, end_ms))
        return self._minutes[key]

    def windows_ms(self, station: Station, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """The station's planned windows over [start_ms, end_ms), in ms; stations of a
        plant without planned downtime of their own share one computation."""
        key = self._key(station, start_ms, end_ms)
        if key not in self._windows:
            history = self.history(station) or CalendarHistory()
            downtime = key[-1]
            assert isinstance(downtime, tuple)
            self._windows[key] = [
                (_ms(s), _ms(e))
                for s, e in calendars.history_windows(
                    history, _moment(start_ms), _moment(end_ms), downtime
                )
            ]
        return self._windows[key]

    def _key(self, station: Station, start_ms: int, end_ms: int) -> tuple[object, ...]:
        """What the station's planned time over the range depends on."""
        booking_key = (station.plant_id, start_ms, end_ms)
        if booking_key not in self._booked:
            self._booked[booking_key] = self.uow.planned_downtimes.overlapping(
                tenant_id=station.tenant_id,
                plant_id=station.plant_id,
                start=_moment(start_ms),
                end=_moment(end_ms),
            )
        downtime = tuple(
            (d.start_time, d.end_time)
            for d in self._booked[booking_key]
            if d.applies_to(station.id)
        )
        return (station.plant_id, start_ms, end_ms, downtime)


def record_machine_data(
    uow: ExecutionUnitOfWork,
    batches: Sequence[MachineBatch],
    *,
    now: datetime,
    directory: EquipmentDirectory | None = None,
) -> Recorded:
    """Moves every mapped machine's track past its batch, in one transaction: the
    bus commits its offsets only after, so a batch delivered again is taken once.
    A machine production has not heard of yet is looked up in ``directory``: its
    first points may come before the products service's announcement of it."""
    unmapped = late = taken = 0
    with uow:
        ids = {b.equipment_id for b in batches}
        placements = uow.placements.of(ids)
        if directory is not None:
            for tenant_id, equipment_id in {
                (b.tenant_id, b.equipment_id) for b in batches if b.equipment_id not in placements
            }:
                found = directory.placement(tenant_id=tenant_id, equipment_id=equipment_id)
                if found is not None:
                    uow.placements.place(found)
                    placements[equipment_id] = found
        tracks = uow.tracks.of(ids)
        lookups = _Lookups(uow)
        station_counts: dict[str, tuple[float, float]] = {}
        written = _Writes()
        for batch in batches:
            placement = placements.get(batch.equipment_id)
            if placement is None or placement.tenant_id != batch.tenant_id:
                unmapped += 1
                continue
            mapping = lookups.mapping(placement)
            station = lookups.station(placement.tenant_id, placement.station_id)
            calendar = lookups.calendar(station) if station else None
            if mapping is None or station is None or calendar is None:
                unmapped += 1
                continue
            track = tracks.get(batch.equipment_id) or Track(
                tenant_id=batch.tenant_id,
                equipment_id=batch.equipment_id,
                station_id=station.id,
            )
            track.station_id = station.id
            tracks[batch.equipment_id] = track
            progress = advance(track, mapping, batch.points, _rules(calendar, mapping))
            late += progress.late_points
            taken += 1
            _store_progress(uow, lookups, station, track, progress, written, now)
            good, scrap = station_counts.get(station.id, (0.0, 0.0))
            station_counts[station.id] = (good + progress.good, scrap + progress.scrap)
        uow.timeline.add_intervals(written.intervals)
        uow.timeline.add_minutes(written.minutes)
        uow.tracks.save(list({id(t): t for t in written.tracks}.values()))
        floor.counted_at_stations(uow, station_counts, now=now)
    return Recorded(batches=taken, unmapped=unmapped, late_points=late)


@dataclass
class _Writes:
    """What a call of record_machine_data writes to the timeline, all at once."""

    tracks: list[Track] = field(default_factory=list)
    intervals: list[tuple[Track, Sequence[Interval]]] = field(default_factory=list)
    minutes: list[MinutesOf] = field(default_factory=list)


def _rules(calendar: Calendar, mapping: StateMapping) -> Rules:
    return Rules(
        threshold_ms=calendar.small_stop_threshold_s * 1000,
        startup_window_ms=calendar.startup_window_s * 1000,
        hold_ms=mapping.hold_s * 1000,
    )


def _store_progress(
    uow: ExecutionUnitOfWork,
    lookups: _Lookups,
    station: Station,
    track: Track,
    progress: Progress,
    written: _Writes,
    now: datetime,
) -> None:
    written.tracks.append(track)
    written.intervals.append((track, progress.intervals))
    starts = [s.start_ms for s in progress.segments]
    ends = [s.end_ms for s in progress.segments]
    if len(progress.counts):
        starts.append(int(progress.counts.at_ms[0]))
        ends.append(int(progress.counts.at_ms[-1]) + 1)
    if starts:
        # Whole UTC days, so every batch of a day shares one calendar computation.
        first_day = min(starts) - min(starts) % DAY_MS
        last_day = max(ends) - max(ends) % DAY_MS + DAY_MS
        planned = lookups.planned_minutes(station, first_day, last_day)
        running = uow.running_operations.at([station.id]).get(station.id)
        ideal = running.ideal_cycle_time_s if running else station.ideal_cycle_time_s
        minutes = by_minute(progress.segments, progress.counts, ideal_cycle_s=ideal)
        written.minutes.append((track, minutes, planned.__contains__))
    for stop in progress.downtime_started:
        downtime = Downtime(
            id=new_id(),
            tenant_id=track.tenant_id,
            plant_id=station.plant_id,
            line_id=station.line_id,
            station_id=station.id,
            equipment_id=track.equipment_id,
            state=stop.state,
            start_ms=stop.start_ms,
            end_ms=None,
        )
        downtime = dataclasses.replace(downtime, category=downtime.default_category)
        uow.downtimes.open(downtime)
        uow.record(DowntimeChanged(False, downtime, now))
    for stop in progress.downtime_ended:
        assert stop.end_ms is not None
        closed = uow.downtimes.close(
            equipment_id=track.equipment_id, start_ms=stop.start_ms, end_ms=stop.end_ms
        )
        if closed is not None:
            uow.record(DowntimeChanged(True, closed, now))


# -- the timeline --------------------------------------------------------------------------


def list_state_intervals(
    uow: ExecutionUnitOfWork,
    *,
    tenant_id: str,
    station_id: str,
    start: datetime,
    end: datetime,
    now: datetime,
) -> tuple[list[TimelineEntry], bool]:
    """The station's machines' states clipped to the range, earliest first, and
    whether there were more than TIMELINE_LIMIT; what lasts has no end."""
    checked_range(start, end, longest=TIMELINE_RANGE_MAX)
    start_ms, end_ms, now_ms = _ms(start), _ms(end), _ms(now)
    with uow:
        station = _station(uow, tenant_id, station_id)
        closed = uow.timeline.intervals(
            tenant_id=tenant_id,
            station_id=station.id,
            start_ms=start_ms,
            end_ms=end_ms,
            limit=TIMELINE_LIMIT + 1,
        )
        entries = [
            TimelineEntry(equipment, i.state, max(i.start_ms, start_ms), min(i.end_ms, end_ms))
            for equipment, i in closed[:TIMELINE_LIMIT]
        ]
        lookups = _Lookups(uow)
        tracks = uow.tracks.at_stations([station.id])
        placements = uow.placements.of([t.equipment_id for t in tracks])
        for track in tracks:
            placement = placements.get(track.equipment_id)
            mapping = lookups.mapping(placement) if placement else None
            if track.state is None or mapping is None or track.since_ms >= end_ms:
                continue
            held_until = track.last_ms + mapping.hold_s * 1000
            since = max(track.since_ms, start_ms)
            if held_until >= now_ms:
                entries.append(TimelineEntry(track.equipment_id, track.state, since, None))
                continue
            entries.append(
                TimelineEntry(track.equipment_id, track.state, since, min(held_until, end_ms))
            )
            if held_until < end_ms:
                entries.append(
                    TimelineEntry(
                        track.equipment_id, EquipmentState.NO_DATA, max(held_until, start_ms), None
                    )
                )
        entries.sort(key=lambda e: (e.start_ms, e.equipment_id))
        return entries, len(closed) > TIMELINE_LIMIT


# -- stops and reasons -----------------------------------------------------------------------


def create_downtime_reason(uow: ExecutionUnitOfWork, *, reason: DowntimeReason) -> DowntimeReason:
    violations = []
    if not REASON_CODE.fullmatch(reason.code):
        violations.append(FieldViolation("code", "1..50 characters of a-z, 0-9, _ . -"))
    if not 1 <= len(reason.name.strip()) <= 200:
        violations.append(FieldViolation("name", "1..200 characters"))
    if violations:
        raise InvalidArgument("the downtime reason is not valid", violations=tuple(violations))
    with uow:
        known = {r.code for r in _reasons(uow, reason.tenant_id)}
        if reason.code in known:
            raise AlreadyExists(
                f"reason {reason.code!r} exists already",
                violations=(FieldViolation("code", "already in the reason tree"),),
            )
        if reason.parent_code and reason.parent_code not in known:
            raise InvalidArgument(
                f"no reason {reason.parent_code!r}",
                violations=(FieldViolation("parent_code", "not in the reason tree"),),
            )
        stored = dataclasses.replace(reason, name=reason.name.strip())
        uow.downtime_reasons.add(stored)
        return stored


def list_downtime_reasons(uow: ExecutionUnitOfWork, *, tenant_id: str) -> list[DowntimeReason]:
    with uow:
        return _reasons(uow, tenant_id)


def _reasons(uow: ExecutionUnitOfWork, tenant_id: str) -> list[DowntimeReason]:
    return built_in_reasons(tenant_id) + uow.downtime_reasons.all(tenant_id=tenant_id)


def list_downtimes(
    uow: ExecutionUnitOfWork,
    *,
    tenant_id: str,
    scope: tuple[str, str],
    start: datetime,
    end: datetime,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[Downtime], str]:
    checked_range(start, end, longest=OEE_RANGE_MAX)
    with uow:
        return uow.downtimes.page(
            tenant_id=tenant_id,
            scope=scope,
            start_ms=_ms(start),
            end_ms=_ms(end),
            page_size=page_size(requested_page_size),
            page_token=page_token,
        )


def assign_downtime_reason(
    uow: ExecutionUnitOfWork, *, tenant_id: str, downtime_id: str, reason_code: str, actor: str
) -> Downtime:
    with uow:
        downtime = uow.downtimes.get(tenant_id=tenant_id, downtime_id=downtime_id)
        if downtime is None:
            raise not_found("downtime", downtime_id)
        reason = next((r for r in _reasons(uow, tenant_id) if r.code == reason_code), None)
        if reason is None:
            raise InvalidArgument(
                f"no reason {reason_code!r} in the tenant's reason tree",
                violations=(FieldViolation("reason_code", "not in the reason tree"),),
            )
        assigned = dataclasses.replace(
            downtime, reason_code=reason.code, category=reason.category, reason_actor=actor
        )
        uow.downtimes.update(assigned)
        return assigned


# -- OEE ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OeePart:
    scope: str
    scope_id: str
    start: datetime
    end: datetime
    shift: str
    figures: Figures


def oee(
    uow: ExecutionUnitOfWork,
    *,
    tenant_id: str,
    scope: tuple[str, str],
    start: datetime,
    end: datetime,
    breakdown: str,
    now: datetime,
) -> tuple[OeePart, list[OeePart]]:
    """OEE of ``scope`` over [start, end) on whole minutes, and its parts:
    ``breakdown`` is "", "station" or "shift"."""
    start, end = calendars.minute_floor(start), calendars.minute_floor(end)
    checked_range(start, end, longest=OEE_RANGE_MAX)
    kind, scope_id = scope
    with uow:
        stations = _stations_of(uow, tenant_id, kind, scope_id)
        meter = _Meter(uow, stations, now=now)
        per_station = meter.per_station(start, end)
        total = _sum(per_station.values())
        whole = OeePart(kind, scope_id, start, end, "", _figures(total))
        parts: list[OeePart] = []
        if breakdown == "station":
            parts = [
                OeePart("station", s.id, start, end, "", _figures(per_station[s.id]))
                for s in stations
            ]
        elif breakdown == "shift":
            for occurrence in meter.shifts(start, end):
                shift_start, shift_end = max(occurrence.start, start), min(occurrence.end, end)
                shift_totals = _sum(meter.per_station(shift_start, shift_end).values())
                parts.append(
                    OeePart(
                        kind,
                        scope_id,
                        shift_start,
                        shift_end,
                        occurrence.name,
                        _figures(shift_totals),
                    )
                )
        return whole, parts


@dataclass
class _StationTotals:
    totals: Totals
    calendar_planned_s: float


def _figures(station_totals: _StationTotals) -> Figures:
    return figures(station_totals.totals, calendar_planned_s=station_totals.calendar_planned_s)


def _sum(parts: Collection[_StationTotals]) -> _StationTotals:
    total = _StationTotals(Totals(), 0.0)
    for part in parts:
        total.totals.merge(part.totals)
        total.calendar_planned_s += part.calendar_planned_s
    return total


class _Meter:
    """Reads the planned time and the counted time of a set of stations."""

    def __init__(
        self, uow: ExecutionUnitOfWork, stations: Sequence[Station], *, now: datetime
    ) -> None:
        self.uow = uow
        self.stations = stations
        self.now_ms = _ms(now)
        self.lookups = _Lookups(uow)
        self.tracks = uow.tracks.at_stations([s.id for s in stations])
        self._read_placements()

    def _read_placements(self) -> None:
        self.placements = self.uow.placements.of([t.equipment_id for t in self.tracks])

    def _counted(
        self, station_ids: list[str], start_ms: int, end_ms: int
    ) -> dict[str, dict[str, float]]:
        """The time the timeline holds, as of the tracks in hand.

        Every batch saves its machine's track in the transaction that writes its
        time, and reads see each commit as it lands: a batch committing between the
        tracks and the timeline would have its time counted twice, written and as
        the machine's open state. Unchanged tracks around the timeline read prove
        no such commit came between.
        """
        for _ in range(CONSISTENT_READ_ATTEMPTS):
            counted = self.uow.timeline.totals(
                station_ids=station_ids, start_ms=start_ms, end_ms=end_ms
            )
            tracks = self.uow.tracks.at_stations(station_ids)
            if tracks == self.tracks:
                break
            self.tracks = tracks
            self._read_placements()
        return counted

    def shifts(self, start: datetime, end: datetime) -> list[calendars.ShiftOccurrence]:
        seen: dict[str, CalendarHistory] = {}
        for station in self.stations:
            history = self.lookups.history(station)
            if history is not None:
                seen.setdefault(station.plant_id, history)
        occurrences = [o for h in seen.values() for o in calendars.history_shifts(h, start, end)]
        return sorted(occurrences, key=lambda o: (o.start, o.name))

    def per_station(self, start: datetime, end: datetime) -> dict[str, _StationTotals]:
        start_ms, end_ms = _ms(start), _ms(end)
        ids = [s.id for s in self.stations]
        counted = self._counted(ids, start_ms, end_ms)
        reclassified: dict[str, list[Reclassified]] = {}
        for downtime in self.uow.downtimes.reclassified(
            station_ids=ids, start_ms=start_ms, end_ms=end_ms
        ):
            reclassified.setdefault(downtime.station_id, []).append(downtime)
        tracks: dict[str, list[Track]] = {}
        for track in self.tracks:
            tracks.setdefault(track.station_id, []).append(track)
        bare: dict[str, float] = {}
        result: dict[str, _StationTotals] = {}
        for station in self.stations:
            calendar = self.lookups.calendar(station)
            history = self.lookups.history(station)
            if calendar is None or history is None:
                continue
            windows = self.lookups.windows_ms(station, start_ms, end_ms)
            if station.plant_id not in bare:
                bare[station.plant_id] = calendars.planned_seconds(
                    calendars.history_windows(history, start, end)
                )
            totals = Totals(planned_busy_s=sum(e - s for s, e in windows) / 1000, stations=1)
            totals.add(counted.get(station.id, {}))
            for track in tracks.get(station.id, []):
                totals.add(self._open(track, calendar, windows, start_ms, end_ms))
            for downtime in reclassified.get(station.id, []):
                stop_end = downtime.end_ms if downtime.end_ms is not None else self.now_ms
                totals.move(
                    downtime.default_category,
                    downtime.category,
                    overlap_s(max(downtime.start_ms, start_ms), min(stop_end, end_ms), windows),
                )
            result[station.id] = _StationTotals(totals, bare[station.plant_id])
        return result

    def _open(
        self,
        track: Track,
        calendar: Calendar,
        windows: Sequence[tuple[int, int]],
        start_ms: int,
        end_ms: int,
    ) -> dict[str, float]:
        """The time a machine's current state has not yet written."""
        placement = self.placements.get(track.equipment_id)
        mapping = self.lookups.mapping(placement) if placement else None
        if track.state is None or mapping is None:
            return {}
        held_until = min(self.now_ms, track.last_ms + mapping.hold_s * 1000)
        if track.state is EquipmentState.RUNNING:
            category, since = "running", track.flushed_ms
        elif track.state in STOPS:
            lasted = held_until - track.since_ms
            small = (
                lasted < calendar.small_stop_threshold_s * 1000
                and track.state is not EquipmentState.PLANNED_STOP
            )
            category, since = (SMALL_STOP if small else track.state.value), track.since_ms
        else:
            return {}
        seconds = overlap_s(max(since, start_ms), min(held_until, end_ms), windows)
        return {_FIELD_OF_STATE[category]: seconds} if seconds > 0 else {}


@dataclass(frozen=True)
class StationShift:
    """A station's figures over its plant's current shift so far (or the last one,
    between shifts)."""

    tenant_id: str
    station_id: str
    shift: str
    figures: Figures


def current_shifts(uow: ExecutionUnitOfWork, *, now: datetime) -> list[StationShift]:
    """Every station with a machine production tracks, over its current shift."""
    with uow:
        by_plant: dict[str, list[Station]] = {}
        for tenant_id, station_id in uow.tracks.tracked_stations():
            station = uow.stations.get(tenant_id=tenant_id, resource_id=station_id)
            if station is not None:
                by_plant.setdefault(station.plant_id, []).append(station)
        result = []
        for stations in by_plant.values():
            meter = _Meter(uow, stations, now=now)
            occurrences = [o for o in meter.shifts(now - timedelta(days=2), now) if o.start <= now]
            if not occurrences:
                continue
            shift = occurrences[-1]
            parts = meter.per_station(shift.start, min(shift.end, calendars.minute_floor(now)))
            result += [
                StationShift(s.tenant_id, s.id, shift.name, _figures(parts[s.id]))
                for s in stations
                if s.id in parts
            ]
        return result


def _stations_of(
    uow: ExecutionUnitOfWork, tenant_id: str, kind: str, scope_id: str
) -> list[Station]:
    if kind == "station":
        return [_station(uow, tenant_id, scope_id)]
    if kind == "line":
        if uow.lines.get(tenant_id=tenant_id, resource_id=scope_id) is None:
            raise not_found("line", scope_id)
        return all_stations(uow, tenant_id=tenant_id, line_id=scope_id)
    if kind == "plant":
        if uow.plants.get(tenant_id=tenant_id, resource_id=scope_id) is None:
            raise not_found("plant", scope_id)
        return all_stations(uow, tenant_id=tenant_id, plant_id=scope_id)
    raise InvalidArgument(
        "name one station, line or plant",
        violations=(FieldViolation("station_id", "exactly one of station_id, line_id, plant_id"),),
    )


def _station(uow: ExecutionUnitOfWork, tenant_id: str, station_id: str) -> Station:
    station = uow.stations.get(tenant_id=tenant_id, resource_id=station_id)
    if station is None:
        raise NotFound(f"station {station_id!r} not found")
    return station


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
