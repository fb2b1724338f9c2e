"""`make bench`, production: OEE of a plant of 1,000 stations over 30 days in one call.

On a fresh PostgreSQL database, through production's own store: one plant of 10
lines x 100 stations, one machine each, a three-shift calendar with breaks and a
plant-wide maintenance window, and 30 days of what the machines did, kept as
production keeps it: hour rows (planned time by state and units counted) for the
whole range, minute rows for its first and last day only (a range not on whole
hours reads its edges there; all 30 days of minutes would be 43 M rows, too many
to load here), and a few stops per station and day, some given a reason that moves
them to another loss category. Then ``monitoring.oee`` for the plant, whole and per
station, 10 times each after one call to warm the caches.

The answer is checked against a count from the generated minutes, and the figures
go to tests/bench/results/production.{md,json}. Exits 1 when a median is over 1 s.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, create_engine

from imcloud_production.domain import calendar as calendars
from imcloud_production.domain import monitoring, planning, services
from imcloud_production.domain.calendar import Calendar, ShiftBreak, ShiftPattern
from imcloud_production.domain.catalog import (
    Comparison,
    CounterKind,
    CountSignal,
    EquipmentState,
    StateMapping,
    StateRule,
)
from imcloud_production.domain.execution import (
    Placement,
    PlannedDowntime,
    PlannedDowntimeKind,
)
from imcloud_production.domain.model import Station
from imcloud_production.domain.tracking import MINUTE_FIELDS, Track
from tests.bench.telemetry_bench import RESULTS, say
from tests.conftest import POSTGRES_URL, FreshDatabases
from tests.unit.production.harness import ProductionStore

TENANT = "tenant-production-bench"
MODEL = "bench-machine-model"
ZONE = "Europe/Berlin"
LINES = 10
STATIONS_PER_LINE = 100
DAYS = 30
RUNS = 10
LIMIT_S = 1.0
IDEAL_CYCLE_S = 30.0
# Real cycles run this much slower than ideal; this share of units is scrap.
SLOWDOWN = 1.12
SCRAP_RATE = 0.02
THRESHOLD_S = 120
STARTUP_WINDOW_MIN = 5
MINUTE_MS = 60_000
DAY_MS = 86_400_000
DAY_MINUTES = 1440
# The range asked for ends (now) and starts this long after a whole hour.
PAST_THE_HOUR = timedelta(minutes=37)
# Each day is cut into slots of this many minutes, with one stop in each.
STOP_SLOT_MIN = 360
# The stops of a day, by state code, and how an operator explains them: reason
# codes whose category differs from the state's default move their time.
RUNNING, DOWN, SETUP, IDLE = 0, 1, 2, 3
DAY_STOPS = (DOWN, DOWN, SETUP, IDLE)
STATE_NAMES = {DOWN: "down", SETUP: "setup", IDLE: "idle"}
REASONS: dict[int, tuple[tuple[str, str], ...]] = {
    DOWN: (("", "breakdown"), ("breakdown.mechanical", "breakdown"), ("no_material", "external")),
    SETUP: (("", "setup"), ("changeover", "setup")),
    IDLE: (("", "external"), ("no_operator", "external")),
}


@dataclass
class Plant:
    plant_id: str
    stations: list[Station]
    start: datetime
    now: datetime
    planned: npt.NDArray[np.bool_]  # by minute since ``start``


@dataclass
class Expected:
    """What the generated minutes give over the asked range, all stations summed."""

    planned_s: float = 0.0
    amounts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(MINUTE_FIELDS, 0.0))


@dataclass
class Loaded:
    day_rows: int = 0
    hour_rows: int = 0
    minute_rows: int = 0
    downtime_rows: int = 0
    reclassified: int = 0
    seconds: float = 0.0


# -- the plant ------------------------------------------------------------------------


def three_shifts(plant_id: str) -> Calendar:
    def shift(name: str, start: int, end: int, pause: int) -> ShiftPattern:
        return ShiftPattern(
            name,
            (1, 2, 3, 4, 5, 6, 7),
            clock(start),
            clock(end),
            (ShiftBreak(clock(pause), clock(pause, 30)),),
        )

    return Calendar(
        plant_id=plant_id,
        time_zone=ZONE,
        shifts=(shift("early", 6, 14, 10), shift("late", 14, 22, 18), shift("night", 22, 6, 2)),
        holidays=(),
        small_stop_threshold_s=THRESHOLD_S,
        startup_window_s=STARTUP_WINDOW_MIN * 60,
    )


def build_plant(store: ProductionStore) -> Plant:
    uow = store.unit_of_work
    hour = (datetime.now(UTC) - PAST_THE_HOUR).replace(minute=0, second=0, microsecond=0)
    now = hour + PAST_THE_HOUR
    # The calendar and the machines' data begin on the whole hour before the range.
    start = hour - timedelta(days=DAYS)
    say(f"creating a plant of {LINES} lines x {STATIONS_PER_LINE} stations, one machine each")
    plant = services.create_plant(
        uow(), tenant_id=TENANT, name="Bench works", location="", time_zone=ZONE
    )
    calendar = three_shifts(plant.id)
    planning.set_calendar(uow(), tenant_id=TENANT, calendar=calendar, effective=start)
    planning.set_state_mapping(
        uow(),
        mapping=StateMapping(
            tenant_id=TENANT,
            equipment_model_id=MODEL,
            state_signal="run_state",
            rules=tuple(
                StateRule(Comparison.EQUAL, float(code), state)
                for code, state in (
                    (1, EquipmentState.RUNNING),
                    (2, EquipmentState.SETUP),
                    (3, EquipmentState.DOWN),
                )
            ),
            default_state=EquipmentState.IDLE,
            good=CountSignal("good_count", CounterKind.TOTAL),
            scrap=CountSignal("scrap_count", CounterKind.TOTAL),
            hold_s=60,
            update_time=start,
        ),
    )
    # Booked before it happened (the domain refuses booking the past).
    maintenance = (start + timedelta(days=14, hours=8), start + timedelta(days=14, hours=12))
    with uow() as work:
        work.planned_downtimes.add(
            PlannedDowntime(
                id=str(uuid.uuid4()),
                tenant_id=TENANT,
                plant_id=plant.id,
                station_id="",
                kind=PlannedDowntimeKind.MAINTENANCE,
                start_time=maintenance[0],
                end_time=maintenance[1],
                reason="plant maintenance",
                create_time=start,
            )
        )
    stations = []
    for line_number in range(LINES):
        line = services.create_line(
            uow(), tenant_id=TENANT, plant_id=plant.id, name=f"L{line_number}", description=""
        )
        for number in range(STATIONS_PER_LINE):
            station = services.create_station(
                uow(),
                tenant_id=TENANT,
                line_id=line.id,
                name=f"S{line_number}-{number}",
                description="",
                capabilities=["assembly"],
                ideal_cycle_time_s=IDEAL_CYCLE_S,
            )
            monitoring.place_equipment(
                uow(), Placement(TENANT, machine_of(station), MODEL, station.id, update_time=start)
            )
            stations.append(station)
        say(f"  line {line_number + 1}/{LINES} created")
    now_ms = ms(now)
    with uow() as work:
        # Every machine is running when asked, its last point just in.
        work.tracks.save(
            [
                Track(
                    tenant_id=TENANT,
                    equipment_id=machine_of(station),
                    station_id=station.id,
                    state=EquipmentState.RUNNING,
                    since_ms=now_ms - 3_600_000,
                    flushed_ms=now_ms,
                    last_ms=now_ms,
                    good_last=0.0,
                    scrap_last=0.0,
                )
                for station in stations
            ]
        )
    windows = calendars.planned_windows(calendar, start, now, [maintenance])
    planned = np.zeros(minutes_between(start, now), dtype=bool)
    for window_start, window_end in windows:
        planned[minutes_between(start, window_start) : minutes_between(start, window_end)] = True
    return Plant(plant.id, stations, start, now, planned)


def machine_of(station: Station) -> str:
    """The station's one machine: an id of its own, derived so none need be kept."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, station.id))


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def minutes_between(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds()) // 60


# -- what the machines did --------------------------------------------------------------


@dataclass
class StationMinutes:
    """One machine's minutes since the plant's start: seconds by state and units."""

    amounts: dict[str, npt.NDArray[np.float64]]
    stops: list[tuple[int, int, int]]  # (state code, first minute, end minute)


def station_minutes(rng: np.random.Generator, count: int) -> StationMinutes:
    state = np.zeros(count, dtype=np.int8)
    after_restart = np.zeros(count, dtype=bool)
    stops = []
    # The last stop ends well before the question: every machine runs at the end.
    for slot_start in range(0, count - STOP_SLOT_MIN, STOP_SLOT_MIN):
        code = DAY_STOPS[(slot_start // STOP_SLOT_MIN) % len(DAY_STOPS)]
        length = int(rng.integers(5, 46))
        first = slot_start + int(rng.integers(0, STOP_SLOT_MIN - length))
        state[first : first + length] = code
        after_restart[first + length : first + length + STARTUP_WINDOW_MIN] = True
        stops.append((code, first, first + length))
    running = state == RUNNING
    # Small stops: a few running minutes lose 10-50 s each.
    small = np.where(running & (rng.random(count) < 0.04), rng.uniform(10, 50, count), 0.0)
    running_s = np.where(running, 60.0 - small, 0.0)
    produced = rng.poisson(running_s / (IDEAL_CYCLE_S * SLOWDOWN)).astype(np.float64)
    scrap = rng.binomial(produced.astype(np.int64), SCRAP_RATE).astype(np.float64)
    amounts = dict.fromkeys(MINUTE_FIELDS, np.zeros(count))
    amounts.update(
        running_s=running_s,
        small_stop_s=small,
        down_s=np.where(state == DOWN, 60.0, 0.0),
        setup_s=np.where(state == SETUP, 60.0, 0.0),
        idle_s=np.where(state == IDLE, 60.0, 0.0),
        good=produced - scrap,
        scrap=scrap,
        startup_scrap=np.where(after_restart, scrap, 0.0),
        ideal_s=produced * IDEAL_CYCLE_S,
    )
    return StationMinutes(amounts, stops)


def load_history(url: str, plant: Plant, expected: Expected) -> Loaded:
    """Writes every station's hours, edge minutes and stops with COPY; adds what
    the asked range holds to ``expected``."""
    rng = np.random.default_rng(11)
    count = len(plant.planned)
    hours = -(-count // 60)
    padded = np.zeros(hours * 60, dtype=bool)
    padded[:count] = plant.planned
    planned_by_hour = padded.reshape(hours, 60)
    worked_hours = np.flatnonzero(planned_by_hour.any(axis=1)).tolist()
    edge_minutes = np.r_[0:DAY_MINUTES, count - DAY_MINUTES : count]
    edge_planned = plant.planned[edge_minutes].tolist()
    asked = slice(minutes_between(plant.start, plant.now - timedelta(days=DAYS)), count)
    start_ms = ms(plant.start)
    loaded = Loaded()
    engine = create_engine(url)
    started = time.perf_counter()
    try:
        with (
            copying(engine, "station_days", time_by_state_columns("day_ms")) as day_row,
            copying(engine, "station_hours", time_by_state_columns("hour_ms")) as hour_row,
            copying(
                engine, "station_minutes", time_by_state_columns("minute_ms", "planned")
            ) as minute_row,
            copying(engine, "downtimes", _DOWNTIME_COLUMNS) as downtime_row,
        ):
            for index, station in enumerate(plant.stations):
                machine = station_minutes(rng, count)
                keys = (station.id, machine_of(station))
                by_hour = {}
                for name, values in machine.amounts.items():
                    minutes = np.zeros(hours * 60)
                    minutes[:count] = values
                    by_hour[name] = (minutes.reshape(hours, 60) * planned_by_hour).sum(axis=1)
                    expected.amounts[name] += float(values[asked][plant.planned[asked]].sum())
                expected.planned_s += float(plant.planned[asked].sum()) * 60
                hourly = np.column_stack([by_hour[f] for f in MINUTE_FIELDS])
                days: dict[int, np.ndarray] = {}
                for hour in worked_hours:
                    hour_ms = start_ms + hour * 3_600_000
                    hour_row((*keys, hour_ms, TENANT, *hourly[hour].tolist()))
                    loaded.hour_rows += 1
                    day_ms = hour_ms // DAY_MS * DAY_MS
                    days[day_ms] = days.get(day_ms, 0) + hourly[hour]
                for day_ms, summed in days.items():
                    day_row((*keys, day_ms, TENANT, *summed.tolist()))
                    loaded.day_rows += 1
                edges = np.column_stack([machine.amounts[f][edge_minutes] for f in MINUTE_FIELDS])
                for minute, values, planned in zip(
                    edge_minutes.tolist(), edges.tolist(), edge_planned, strict=True
                ):
                    minute_row((*keys, start_ms + minute * MINUTE_MS, TENANT, *values, planned))
                    loaded.minute_rows += 1
                for code, first, end in machine.stops:
                    reason, category = REASONS[code][int(rng.integers(len(REASONS[code])))]
                    downtime_row(
                        (
                            str(uuid.uuid4()),
                            TENANT,
                            plant.plant_id,
                            station.line_id,
                            station.id,
                            machine_of(station),
                            STATE_NAMES[code],
                            start_ms + first * MINUTE_MS,
                            start_ms + end * MINUTE_MS,
                            reason,
                            category,
                            "operator@bench" if reason else "",
                        )
                    )
                    loaded.downtime_rows += 1
                    loaded.reclassified += category != REASONS[code][0][1]
                if (index + 1) % 100 == 0:
                    say(f"  {index + 1}/{len(plant.stations)} stations loaded")
        with engine.begin() as connection:
            # What autovacuum does after such inserts, so the planner knows the tables.
            connection.exec_driver_sql(
                "ANALYZE station_days, station_hours, station_minutes, downtimes"
            )
    finally:
        engine.dispose()
    loaded.seconds = time.perf_counter() - started
    return loaded


_DOWNTIME_COLUMNS = (
    "id",
    "tenant_id",
    "plant_id",
    "line_id",
    "station_id",
    "equipment_id",
    "state",
    "start_ms",
    "end_ms",
    "reason_code",
    "category",
    "reason_actor",
)


def time_by_state_columns(period: str, *after: str) -> tuple[str, ...]:
    return ("station_id", "equipment_id", period, "tenant_id", *MINUTE_FIELDS, *after)


@contextmanager
def copying(
    engine: Engine, table: str, columns: tuple[str, ...]
) -> Iterator[Callable[[tuple[object, ...]], None]]:
    """A COPY into ``table`` on a connection of its own; yields what writes a row."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            yield copy.write_row
        connection.commit()
    finally:
        connection.close()


# -- asking -------------------------------------------------------------------------------


def ask(store: ProductionStore, plant: Plant, breakdown: str) -> monitoring.OeePart:
    whole, parts = monitoring.oee(
        store.unit_of_work(),
        tenant_id=TENANT,
        scope=("plant", plant.plant_id),
        start=plant.now - timedelta(days=DAYS),
        end=plant.now,
        breakdown=breakdown,
        now=plant.now,
    )
    if breakdown == "station":
        assert len(parts) == len(plant.stations), f"{len(parts)} parts"
    return whole


def timings(store: ProductionStore, plant: Plant, breakdown: str) -> list[float]:
    ask(store, plant, breakdown)
    seconds = []
    for _ in range(RUNS):
        started = time.perf_counter()
        ask(store, plant, breakdown)
        seconds.append(time.perf_counter() - started)
    return seconds


def check(answer: monitoring.OeePart, expected: Expected) -> None:
    """The answer equals the count from the generated minutes."""
    got = answer.figures
    a = expected.amounts
    want = {
        "planned busy time": (got.time.planned_busy_time_s, expected.planned_s),
        "actual production time": (
            got.time.actual_production_time_s,
            a["running_s"] + a["small_stop_s"],
        ),
        "down time": (got.time.actual_unit_down_time_s, a["down_s"]),
        "setup time": (got.time.actual_unit_setup_time_s, a["setup_s"]),
        "good": (got.quantities.good, a["good"]),
        "scrap": (got.quantities.scrap, a["scrap"]),
        "ideal time": (got.quantities.ideal_production_time_s, a["ideal_s"]),
    }
    wrong = {k: v for k, v in want.items() if abs(v[0] - v[1]) > 1e-6 * max(abs(v[1]), 1.0)}
    assert not wrong, f"the OEE answer differs from the generated data: {wrong}"


def profile(store: ProductionStore, plant: Plant) -> str:
    """The functions a per-station call spends its time in, most first."""
    profiler = cProfile.Profile()
    profiler.enable()
    ask(store, plant, "station")
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime").print_stats(20)
    return text.getvalue()


# -- report -----------------------------------------------------------------------------


BREAKDOWNS = {
    "": "OEE of the plant over 30 days, one figure",
    "station": "OEE of the plant over 30 days, with its 1,000 stations",
}


def report(
    measured: dict[str, list[float]], loaded: Loaded, profiled: str, load: dict[str, object]
) -> bool:
    """Prints and writes the figures; whether every median is within the limit."""
    lines = ["| measure | median | p95 | unit |", "|---|---:|---:|---|"]
    rows = []
    for breakdown, seconds in measured.items():
        median, p95 = statistics.median(seconds) * 1000, float(np.percentile(seconds, 95)) * 1000
        rows.append((BREAKDOWNS[breakdown], median, p95, "ms"))
        lines.append(f"| {BREAKDOWNS[breakdown]} | {median:,.0f} | {p95:,.0f} | ms |")
    within = all(statistics.median(s) <= LIMIT_S for s in measured.values())
    table = "\n".join(lines)
    data = (
        f"{LINES * STATIONS_PER_LINE:,} stations; {loaded.day_rows:,} day rows and "
        f"{loaded.hour_rows:,} hour rows for the "
        f"{DAYS} days and the hour the range starts in, {loaded.minute_rows:,} minute rows "
        f"(its first and last 24 hours only), {loaded.downtime_rows:,} stops "
        f"({loaded.reclassified:,} moved "
        f"to another loss category by their reason), loaded in {loaded.seconds:,.0f} s."
    )
    verdict = (
        f"every median within {LIMIT_S:.0f} s"
        if within
        else f"OVER the {LIMIT_S:.0f} s limit (issue 11)"
    )
    print(f"\n{table}\n\n{data}\n{verdict}\n")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "production.md").write_text(
        f"# Production benchmark ({stamp})\n\n"
        f"`monitoring.oee` on PostgreSQL, {RUNS} calls each after one to warm the caches; "
        f"the 30 days end now, {PAST_THE_HOUR.seconds // 60} minutes past an hour, so both "
        f"edges are read from minute rows.\n\n{table}\n\n{data}\n\nResult: {verdict}. "
        f"Load average (1, 5, 15 min) before and after: {load}.\n\n"
        f"## Where a per-station call spends its time (cProfile, own time)\n\n"
        f"```\n{profiled.strip()}\n```\n"
    )
    (RESULTS / "production.json").write_text(
        json.dumps(
            {
                "when": stamp,
                "rows": rows,
                "runs_s": measured,
                "stations": LINES * STATIONS_PER_LINE,
                "day_rows": loaded.day_rows,
                "hour_rows": loaded.hour_rows,
                "minute_rows": loaded.minute_rows,
                "downtime_rows": loaded.downtime_rows,
                "reclassified_downtime_rows": loaded.reclassified,
                "load_seconds": loaded.seconds,
                "load_average": load,
                "within_limit": within,
            },
            indent=2,
        )
    )
    return within


def main() -> int:
    load: dict[str, object] = {"before": os.getloadavg()}
    databases = FreshDatabases(POSTGRES_URL)
    try:
        url = databases.create("production_bench")
        store = ProductionStore(url)
        try:
            plant = build_plant(store)
            expected = Expected()
            say(f"loading {DAYS} days of {len(plant.stations):,} machines with COPY")
            loaded = load_history(url, plant, expected)
            say(
                f"loaded {loaded.day_rows:,} day rows, {loaded.hour_rows:,} hour rows, "
                f"{loaded.minute_rows:,} minute rows, "
                f"{loaded.downtime_rows:,} stops in {loaded.seconds:,.0f} s"
            )
            check(ask(store, plant, ""), expected)
            say("the answer equals the count from the generated minutes")
            measured = {}
            for breakdown, name in BREAKDOWNS.items():
                say(f"timing {RUNS} calls: {name}")
                measured[breakdown] = timings(store, plant, breakdown)
                say(f"  median {statistics.median(measured[breakdown]) * 1000:,.0f} ms")
            profiled = profile(store, plant)
        finally:
            store.close()
    finally:
        databases.drop_all()
    load["after"] = os.getloadavg()
    return 0 if report(measured, loaded, profiled, load) else 1


if __name__ == "__main__":
    sys.exit(main())
