"""A plant's schedule as the shop floor sees it: operations on stations in real
time, the ETA of every work order, and why each ETA is what it is."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from imcloud_production.domain.scheduling.model import Status


class TriggerKind(StrEnum):
    WORK_ORDER_RELEASED = "work_order_released"
    WORK_ORDER_CANCELLED = "work_order_cancelled"
    OPERATION_STARTED = "operation_started"
    OPERATION_COMPLETED = "operation_completed"
    STATION_DOWN = "station_down"
    STATION_BACK = "station_back"
    SLOWER_THAN_PLANNED = "slower_than_planned"
    CALENDAR_CHANGED = "calendar_changed"
    PLANNED_DOWNTIME_CHANGED = "planned_downtime_changed"
    REQUESTED = "requested"


@dataclass(frozen=True)
class Trigger:
    kind: TriggerKind
    # The work order, station or plant it happened to.
    subject_id: str
    description: str
    occur_time: datetime


@dataclass(frozen=True)
class PlannedOperation:
    work_order_id: str
    sequence: int
    name: str
    station_id: str
    line_id: str
    setup_start: datetime
    start: datetime
    end: datetime
    # Started, or inside the frozen near horizon: the repair that made this plan kept it.
    frozen: bool
    started: bool


@dataclass(frozen=True)
class MovedOperation:
    sequence: int
    previous_station_id: str
    previous_start: datetime
    station_id: str
    start: datetime


@dataclass(frozen=True)
class Eta:
    work_order_id: str
    due_time: datetime
    end_time: datetime
    lateness_s: float
    explanation: str
    # The revision that last changed it, with what that revision reacted to and moved.
    revision: int
    previous_end_time: datetime | None = None
    triggers: tuple[Trigger, ...] = ()
    moved: tuple[MovedOperation, ...] = ()


@dataclass(frozen=True)
class PlantSchedule:
    tenant_id: str
    plant_id: str
    revision: int
    status: Status
    method: str
    compute_time: datetime
    solve_time_s: float = 0.0
    triggers: tuple[Trigger, ...] = ()
    # Earliest first.
    operations: tuple[PlannedOperation, ...] = ()
    etas: Mapping[str, Eta] = field(default_factory=dict)
    # Work order id -> why it is not in the plan.
    unscheduled: Mapping[str, str] = field(default_factory=dict)
    # Station id -> since when it is down, as this plan assumed.
    down_stations: Mapping[str, datetime] = field(default_factory=dict)
    reason: str = ""
    weighted_tardiness_s: float = 0.0

    @property
    def makespan_end(self) -> datetime | None:
        return max((operation.end for operation in self.operations), default=None)

    def operation(self, work_order_id: str, sequence: int) -> PlannedOperation | None:
        return self._by_operation.get((work_order_id, sequence))

    @functools.cached_property
    def _by_operation(self) -> dict[tuple[str, int], PlannedOperation]:
        # Repairs and the watch look up every operation of the plan before them.
        return {(o.work_order_id, o.sequence): o for o in self.operations}


def weight_of(priority: int) -> int:
    """How much an order's lateness counts: priorities in bands of 100, so that
    the weighted tardiness of a plant's seconds stays far inside 64 bits."""
    return 1 + priority // 100


def duration_text(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{max(0, round(seconds))} s"
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [
        f"{days} d" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
    ]
    return " ".join(part for part in parts if part)


def time_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
