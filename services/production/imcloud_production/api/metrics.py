"""OEE of every tracked station over its current shift, as Prometheus gauges."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

from imcloud_core.ids import utcnow
from imcloud_production.domain import monitoring, schedules
from imcloud_production.domain.ports import ExecutionUnitOfWork
from imcloud_production.domain.scheduling.plan import PlantSchedule
from imcloud_production.settings import SchedulingSettings

REFRESH_EVERY_S = 60.0
LABELS = ("tenant_id", "station_id")
STATION_RATIOS = {
    ratio: Gauge(
        f"imcloud_production_station_{ratio}_ratio",
        f"{ratio.capitalize()} of the station over its plant's current shift so far",
        LABELS,
    )
    for ratio in ("availability", "performance", "quality", "oee")
}


def station_gauges(
    unit_of_work: Callable[[], ExecutionUnitOfWork], *, clock: Callable[[], datetime] = utcnow
) -> Callable[[], None]:
    """Sets each tracked station's gauges; a station without a figure (nothing
    planned, nothing produced) has none, rather than a misleading zero."""
    shown: set[tuple[str, str]] = set()

    def refresh() -> None:
        figures = monitoring.current_shifts(unit_of_work(), now=clock())
        now_shown = set()
        for station in figures:
            labels = (station.tenant_id, station.station_id)
            for ratio, gauge in STATION_RATIOS.items():
                value = getattr(station.figures, ratio)
                if value is None:
                    _forget(gauge, labels)
                else:
                    gauge.labels(*labels).set(value)
            now_shown.add(labels)
        for labels in shown - now_shown:
            for gauge in STATION_RATIOS.values():
                _forget(gauge, labels)
        shown.clear()
        shown.update(now_shown)

    return refresh


def _forget(gauge: Gauge, labels: tuple[str, str]) -> None:
    with contextlib.suppress(KeyError):
        gauge.remove(*labels)


SCHEDULES = Counter(
    "imcloud_production_schedules_total",
    "Plant schedules made, by how good they are known to be and what made them",
    ("status", "method"),
)
SCHEDULE_SECONDS = Histogram(
    "imcloud_production_schedule_seconds",
    "Wall time of the scheduler per plant schedule (solver and dispatching rules)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
UNSCHEDULED = Counter(
    "imcloud_production_unscheduled_work_orders_total",
    "Released work orders a new schedule left out, each with its reason in the schedule",
)


def observe_schedule(schedule: PlantSchedule) -> None:
    SCHEDULES.labels(schedule.status.value, schedule.method).inc()
    SCHEDULE_SECONDS.observe(schedule.solve_time_s)
    UNSCHEDULED.inc(len(schedule.unscheduled))


def planning(
    unit_of_work: Callable[[], ExecutionUnitOfWork], settings: SchedulingSettings
) -> Callable[[], None]:
    """The scheduler's round: plans every plant with requests, counting each schedule."""

    def plan() -> None:
        for schedule in schedules.plan_requested(unit_of_work, settings):
            observe_schedule(schedule)

    return plan
