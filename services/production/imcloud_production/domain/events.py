"""Facts the production domain records; the events layer turns them into messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from imcloud_production.domain.execution import Downtime
from imcloud_production.domain.model import Resource
from imcloud_production.domain.scheduling.plan import Eta, PlantSchedule
from imcloud_production.domain.work_orders import WorkOrder


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True)
class StructureChanged:
    """A plant, line or station was created, updated or deleted."""

    change: Change
    # The resource after the change; for a deletion, as it was just before.
    resource: Resource
    occurred_at: datetime


class WorkOrderChange(StrEnum):
    CREATED = "created"
    RELEASED = "released"
    STARTED = "started"
    PROGRESSED = "progressed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class WorkOrderChanged:
    change: WorkOrderChange
    order: WorkOrder
    occurred_at: datetime


@dataclass(frozen=True)
class DowntimeChanged:
    """A stop reached the small-stop threshold (started) or ended."""

    ended: bool
    downtime: Downtime
    occurred_at: datetime


@dataclass(frozen=True)
class ScheduleChanged:
    """The scheduler planned a plant again; ``changed`` are the ETAs this revision moved."""

    schedule: PlantSchedule
    changed: tuple[Eta, ...]
    occurred_at: datetime
