"""The records of execution that are not work orders: planned downtime, where
machines stand, which operation a station runs, quality records, stops and
their reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from imcloud_production.domain.catalog import EquipmentState
from imcloud_production.domain.oee import DEFAULT_CATEGORY, LossCategory


class PlannedDowntimeKind(StrEnum):
    MAINTENANCE = "maintenance"
    PLANNED_STOP = "planned_stop"


@dataclass(frozen=True)
class PlannedDowntime:
    id: str
    tenant_id: str
    plant_id: str
    # Empty: every station of the plant.
    station_id: str
    kind: PlannedDowntimeKind
    start_time: datetime
    end_time: datetime
    reason: str
    create_time: datetime

    def applies_to(self, station_id: str) -> bool:
        return not self.station_id or self.station_id == station_id


@dataclass(frozen=True)
class Placement:
    tenant_id: str
    equipment_id: str
    equipment_model_id: str
    station_id: str
    update_time: datetime


@dataclass(frozen=True)
class RunningOperation:
    tenant_id: str
    station_id: str
    work_order_id: str
    sequence: int
    ideal_cycle_time_s: float


@dataclass(frozen=True)
class QualityRecord:
    id: str
    tenant_id: str
    work_order_id: str
    sequence: int
    station_id: str
    defect_code: str
    quantity: float
    scrapped: bool
    note: str
    create_time: datetime


@dataclass(frozen=True)
class DowntimeReason:
    tenant_id: str
    code: str
    name: str
    parent_code: str
    category: LossCategory


@dataclass(frozen=True)
class Downtime:
    id: str
    tenant_id: str
    plant_id: str
    line_id: str
    station_id: str
    equipment_id: str
    state: EquipmentState
    start_ms: int
    end_ms: int | None
    reason_code: str = ""
    category: LossCategory = LossCategory.BREAKDOWN
    reason_actor: str = ""

    @property
    def default_category(self) -> LossCategory:
        return DEFAULT_CATEGORY[self.state.value]


@dataclass(frozen=True, slots=True)
class Reclassified:
    """A stop an operator's reason moved to another loss category than its state's."""

    station_id: str
    start_ms: int
    end_ms: int | None
    default_category: LossCategory
    category: LossCategory


# Every tenant's tree starts with these; its own nodes hang below or beside them.
BUILT_IN_REASONS = (
    ("breakdown", "Breakdown", "", LossCategory.BREAKDOWN),
    ("breakdown.mechanical", "Mechanical failure", "breakdown", LossCategory.BREAKDOWN),
    ("breakdown.electrical", "Electrical failure", "breakdown", LossCategory.BREAKDOWN),
    ("changeover", "Changeover", "", LossCategory.SETUP),
    ("adjustment", "Adjustment", "", LossCategory.SETUP),
    ("no_material", "No material", "", LossCategory.EXTERNAL),
    ("no_operator", "No operator", "", LossCategory.EXTERNAL),
    ("no_order", "No order", "", LossCategory.EXTERNAL),
    ("quality_hold", "Quality hold", "", LossCategory.EXTERNAL),
)


def built_in_reasons(tenant_id: str) -> list[DowntimeReason]:
    return [DowntimeReason(tenant_id, *reason) for reason in BUILT_IN_REASONS]
