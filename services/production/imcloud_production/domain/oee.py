"""OEE and its parts from time by state and counted units, as ISO 22400-2 names them.

Definitions (a station over a range; a line or plant sums its stations' time
elements and quantities first, so a station planned longer weighs more):

- PBT, planned busy time: the calendar's shift time minus breaks, holidays and
  planned downtime, minus time the machine itself reported as a planned stop;
- APT, actual production time: running time plus small stops (stops shorter than
  the calendar's small-stop threshold do not interrupt production; they cost
  performance, as in the six big losses);
- ADOT, actual unit down time: stops in DOWN at or over the threshold, plus time
  without data from the machine (planned time no segment covers);
- ASUT, setup time; idle time: IDLE stops at or over the threshold;
- availability = APT / PBT; performance = ideal production time / APT, the ideal
  time being the sum of each produced unit's ideal cycle time; quality =
  good / produced; OEE = availability x performance x quality
  (= ideal time of the good units / PBT).

Only planned time counts: running outside shifts is not production time, and
units counted outside them do not enter the figures.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from imcloud_production.domain.tracking import MINUTE_FIELDS


class LossCategory(StrEnum):
    BREAKDOWN = "breakdown"
    SETUP = "setup"
    EXTERNAL = "external"


# Where a stop's time goes until an operator gives it a reason.
DEFAULT_CATEGORY = {
    "down": LossCategory.BREAKDOWN,
    "no_data": LossCategory.BREAKDOWN,
    "idle": LossCategory.EXTERNAL,
    "setup": LossCategory.SETUP,
}


@dataclass
class Totals:
    """Planned seconds by state and units counted in planned time."""

    planned_busy_s: float = 0.0
    amounts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(MINUTE_FIELDS, 0.0))
    # Seconds of stops an operator put in another loss category than their state's.
    moved: dict[tuple[LossCategory, LossCategory], float] = field(default_factory=dict)
    stations: int = 0

    def add(self, amounts: dict[str, float]) -> None:
        for name, value in amounts.items():
            self.amounts[name] = self.amounts.get(name, 0.0) + value

    def merge(self, other: Totals) -> None:
        self.planned_busy_s += other.planned_busy_s
        self.add(other.amounts)
        for key, seconds in other.moved.items():
            self.moved[key] = self.moved.get(key, 0.0) + seconds
        self.stations += other.stations

    def move(self, source: LossCategory, target: LossCategory, seconds: float) -> None:
        if source is not target and seconds > 0:
            self.moved[source, target] = self.moved.get((source, target), 0.0) + seconds


@dataclass(frozen=True)
class TimeElements:
    planned_busy_time_s: float
    actual_production_time_s: float
    actual_unit_down_time_s: float
    actual_unit_setup_time_s: float
    idle_time_s: float
    small_stop_time_s: float
    no_data_time_s: float
    planned_down_time_s: float


@dataclass(frozen=True)
class Quantities:
    produced: float
    good: float
    scrap: float
    startup_scrap: float
    ideal_production_time_s: float


@dataclass(frozen=True)
class SixLosses:
    breakdowns_s: float
    setup_and_adjustment_s: float
    small_stops_s: float
    reduced_speed_s: float
    startup_rejects_s: float
    production_rejects_s: float


@dataclass(frozen=True)
class Figures:
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    time: TimeElements
    quantities: Quantities
    losses: SixLosses
    stations: int


def figures(totals: Totals, *, calendar_planned_s: float) -> Figures:
    """``totals.planned_busy_s`` is the calendar's planned time of every station
    counted; ``calendar_planned_s`` the same before planned downtime (for PDOT)."""
    a = totals.amounts
    pbt = max(totals.planned_busy_s - a["planned_stop_s"], 0.0)
    apt = a["running_s"] + a["small_stop_s"]
    accounted = apt + a["down_s"] + a["idle_s"] + a["setup_s"]
    no_data = max(pbt - accounted, 0.0)
    produced = a["good"] + a["scrap"]
    ideal = a["ideal_s"]
    per_unit = ideal / produced if produced else 0.0
    by_category = {
        LossCategory.BREAKDOWN: a["down_s"] + no_data,
        LossCategory.SETUP: a["setup_s"],
        LossCategory.EXTERNAL: a["idle_s"],
    }
    for (source, target), seconds in totals.moved.items():
        shifted = min(seconds, by_category[source])
        by_category[source] -= shifted
        by_category[target] += shifted
    availability = _ratio(apt, pbt)
    performance = _ratio(ideal, apt)
    quality = _ratio(a["good"], produced)
    oee = (
        availability * performance * quality
        if availability is not None and performance is not None and quality is not None
        else (0.0 if availability == 0.0 else None)
    )
    return Figures(
        availability=availability,
        performance=performance,
        quality=quality,
        oee=oee,
        time=TimeElements(
            planned_busy_time_s=pbt,
            actual_production_time_s=apt,
            actual_unit_down_time_s=a["down_s"] + no_data,
            actual_unit_setup_time_s=a["setup_s"],
            idle_time_s=a["idle_s"],
            small_stop_time_s=a["small_stop_s"],
            no_data_time_s=no_data,
            planned_down_time_s=max(calendar_planned_s - pbt, 0.0),
        ),
        quantities=Quantities(
            produced=produced,
            good=a["good"],
            scrap=a["scrap"],
            startup_scrap=a["startup_scrap"],
            ideal_production_time_s=ideal,
        ),
        losses=SixLosses(
            # Unplanned stops for want of material, operator or order count with
            # breakdowns among the six big losses; the reason tree tells them apart.
            breakdowns_s=by_category[LossCategory.BREAKDOWN] + by_category[LossCategory.EXTERNAL],
            setup_and_adjustment_s=by_category[LossCategory.SETUP],
            small_stops_s=a["small_stop_s"],
            reduced_speed_s=max(a["running_s"] - ideal, 0.0),
            startup_rejects_s=a["startup_scrap"] * per_unit,
            production_rejects_s=(a["scrap"] - a["startup_scrap"]) * per_unit,
        ),
        stations=totals.stations,
    )


def overlap_s(start_ms: int, end_ms: int, windows: Sequence[tuple[int, int]]) -> float:
    """Seconds of [start_ms, end_ms) inside ``windows`` (sorted, disjoint, in ms)."""
    total = 0
    # The last window starting at or before start_ms is the first that can overlap.
    first = max(bisect.bisect_right(windows, (start_ms, math.inf)) - 1, 0)
    for window_start, window_end in windows[first:]:
        if window_start >= end_ms:
            break
        if window_end > start_ms:
            total += min(end_ms, window_end) - max(start_ms, window_start)
    return total / 1000


def planned_minutes(windows: Iterable[tuple[int, int]]) -> set[int]:
    """The minute starts (ms) inside ``windows`` (on whole minutes)."""
    minutes: set[int] = set()
    for start, end in windows:
        minutes.update(range(start, end, 60_000))
    return minutes


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None
