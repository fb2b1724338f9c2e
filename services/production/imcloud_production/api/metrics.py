"""OEE of every tracked station over its current shift, as Prometheus gauges."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime

from prometheus_client import Gauge

from imcloud_core.ids import utcnow
from imcloud_production.domain import monitoring
from imcloud_production.domain.ports import ExecutionUnitOfWork

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
