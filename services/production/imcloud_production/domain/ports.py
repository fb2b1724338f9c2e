"""What the domain needs from storage, as protocols the store implements."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from imcloud_core.ports import Transaction
from imcloud_production.domain.calendar import Calendar, CalendarHistory
from imcloud_production.domain.catalog import Product, StateMapping
from imcloud_production.domain.execution import (
    Downtime,
    DowntimeReason,
    Placement,
    PlannedDowntime,
    QualityRecord,
    Reclassified,
    RunningOperation,
)
from imcloud_production.domain.model import Line, Plant, ResourceT, Station
from imcloud_production.domain.scheduling.plan import PlantSchedule, Trigger
from imcloud_production.domain.tracking import Interval, Track
from imcloud_production.domain.work_orders import WorkOrder, WorkOrderState


class Repository(Protocol[ResourceT]):
    """One kind of resource of the structure tree; every method is tenant-scoped.

    ``equal`` keyword filters name fields of the resource (``plant_id=...``); each
    one given must match exactly.
    """

    def add(self, resource: ResourceT) -> None: ...

    def get(self, *, tenant_id: str, resource_id: str) -> ResourceT | None: ...

    def update(self, resource: ResourceT) -> None:
        """Stores the resource's current fields over the row with its id."""

    def remove(self, resource: ResourceT) -> None: ...

    def name_taken(self, resource: ResourceT) -> bool:
        """Whether another resource with the same parent already has this name."""

    def exists(self, *, tenant_id: str, **equal: str) -> bool: ...

    def list(
        self, *, tenant_id: str, page_size: int, page_token: str, **equal: str
    ) -> tuple[list[ResourceT], str]: ...


class UnitOfWork(Transaction, Protocol):
    @property
    def plants(self) -> Repository[Plant]: ...

    @property
    def lines(self) -> Repository[Line]: ...

    @property
    def stations(self) -> Repository[Station]: ...


class Calendars(Protocol):
    def history(self, *, tenant_id: str, plant_id: str, time_zone: str) -> CalendarHistory: ...

    def put(
        self, calendar: Calendar, *, tenant_id: str, effective: datetime, update_time: datetime
    ) -> None:
        """Makes ``calendar`` the plant's from ``effective`` on, replacing any that
        would apply from then or later."""

    def latest_times(self, *, tenant_id: str, plant_id: str) -> tuple[datetime, datetime] | None:
        """(effective time, update time) of the calendar set last."""


class PlannedDowntimes(Protocol):
    def add(self, downtime: PlannedDowntime) -> None: ...

    def get(self, *, tenant_id: str, downtime_id: str) -> PlannedDowntime | None: ...

    def remove(self, downtime: PlannedDowntime) -> None: ...

    def page(
        self, *, tenant_id: str, plant_id: str, page_size: int, page_token: str
    ) -> tuple[list[PlannedDowntime], str]: ...

    def overlapping(
        self, *, tenant_id: str, plant_id: str, start: datetime, end: datetime
    ) -> list[PlannedDowntime]: ...


class Products(Protocol):
    def add(self, product: Product) -> None: ...

    def get(self, *, tenant_id: str, product_id: str) -> Product | None: ...

    def part_number_taken(self, *, tenant_id: str, part_number: str) -> bool: ...

    def page(
        self, *, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[Product], str]: ...


class StateMappings(Protocol):
    def put(self, mapping: StateMapping) -> None:
        """Stores the mapping; NotFound if the model id is another tenant's."""

    def get(self, *, tenant_id: str, equipment_model_id: str) -> StateMapping | None: ...


class Placements(Protocol):
    """Where machines stand, as the products service announces it."""

    def place(self, placement: Placement) -> None:
        """Stores the placement unless a newer one of the machine is stored."""

    def remove(self, *, equipment_id: str) -> None: ...

    def of(self, equipment_ids: Collection[str]) -> dict[str, Placement]: ...

    def at_station(self, *, tenant_id: str, station_id: str) -> list[Placement]: ...

    def applied_versions(self, *, tenant_id: str, equipment_ids: Collection[str]) -> dict[str, int]:
        """The desired version each placed machine last said it applied, its row
        locked until the transaction ends (so an apply reported meanwhile waits)."""

    def record_applied(
        self, *, tenant_id: str, equipment_id: str, applied_version: int
    ) -> Placement | None:
        """Keeps the newer of the stored and the given applied version (the row
        locked); the machine's placement, None if it is not placed."""


class WorkOrders(Protocol):
    def add(self, order: WorkOrder) -> None: ...

    def get(
        self, *, tenant_id: str, work_order_id: str, for_update: bool = False
    ) -> WorkOrder | None: ...

    def update(self, order: WorkOrder) -> None: ...

    def of_customer_order(
        self, *, tenant_id: str, customer_order_id: str, for_update: bool = False
    ) -> WorkOrder | None: ...

    def of_products(self, *, tenant_id: str, product_ids: Collection[str]) -> list[WorkOrder]: ...

    def page(
        self,
        *,
        tenant_id: str,
        page_size: int,
        page_token: str,
        states: Collection[WorkOrderState],
        plant_id: str,
    ) -> tuple[list[WorkOrder], str]: ...


class RunningOperations(Protocol):
    """Which operation each station runs: where its machines' counts go."""

    def at(self, station_ids: Collection[str]) -> dict[str, RunningOperation]: ...

    def start(self, running: RunningOperation) -> None: ...

    def stop(self, *, station_id: str) -> None: ...


class QualityRecords(Protocol):
    def add(self, record: QualityRecord) -> None: ...

    def page(
        self,
        *,
        tenant_id: str,
        page_size: int,
        page_token: str,
        work_order_id: str,
        station_id: str,
    ) -> tuple[list[QualityRecord], str]: ...


# A machine's track, its minutes' additions, and which minutes are planned.
MinutesOf = tuple[Track, Mapping[int, Mapping[str, float]], Callable[[int], bool]]


class Tracks(Protocol):
    def of(self, equipment_ids: Collection[str]) -> dict[str, Track]: ...

    def at_stations(self, station_ids: Collection[str]) -> list[Track]: ...

    def tracked_stations(self) -> list[tuple[str, str]]:
        """(tenant id, station id) of every station with a tracked machine."""

    def save(self, tracks: Sequence[Track]) -> None: ...


class Timeline(Protocol):
    """Closed state intervals, and the time by state of every minute and hour."""

    def add_intervals(self, entries: Sequence[tuple[Track, Sequence[Interval]]]) -> None: ...

    def intervals(
        self, *, tenant_id: str, station_id: str, start_ms: int, end_ms: int, limit: int
    ) -> list[tuple[str, Interval]]:
        """(equipment id, interval) overlapping the range, earliest first."""

    def add_minutes(self, entries: Sequence[MinutesOf]) -> None:
        """Adds each machine's minutes (and their planned part to its hours and days)."""

    def totals(
        self, *, station_ids: Collection[str], start_ms: int, end_ms: int
    ) -> dict[str, dict[str, float]]:
        """Planned amounts per station over whole minutes [start_ms, end_ms)."""

    def recount(
        self, *, station_id: str, start_ms: int, end_ms: int, planned: Callable[[int], bool]
    ) -> int:
        """Judges the station's minutes in the range planned or not again, and sums
        its hours and days anew; returns how many minutes changed."""


class Downtimes(Protocol):
    def open(self, downtime: Downtime) -> None:
        """Stores a downtime unless the machine's one starting then is stored."""

    def close(self, *, equipment_id: str, start_ms: int, end_ms: int) -> Downtime | None: ...

    def get(self, *, tenant_id: str, downtime_id: str) -> Downtime | None: ...

    def update(self, downtime: Downtime) -> None: ...

    def page(
        self,
        *,
        tenant_id: str,
        scope: tuple[str, str],
        start_ms: int,
        end_ms: int,
        page_size: int,
        page_token: str,
    ) -> tuple[list[Downtime], str]:
        """``scope`` is ("station_id" | "line_id" | "plant_id", id)."""

    def reclassified(
        self, *, station_ids: Collection[str], start_ms: int, end_ms: int
    ) -> list[Reclassified]:
        """Downtimes in the range whose category an operator changed."""


class DowntimeReasons(Protocol):
    def add(self, reason: DowntimeReason) -> None: ...

    def get(self, *, tenant_id: str, code: str) -> DowntimeReason | None: ...

    def all(self, *, tenant_id: str) -> list[DowntimeReason]: ...


@dataclass(frozen=True)
class AppliedRecipe:
    """A machine's twin after a recipe was merged into its desired state."""

    desired_version: int
    # The desired version the machine last said it applied.
    applied_version: int


class RecipeTarget(Protocol):
    """The machines' owner (the products service), which takes recipes as desired state."""

    def apply(self, *, tenant_id: str, equipment_id: str, recipe_json: str) -> AppliedRecipe:
        """Merges the recipe (a JSON merge patch) into the machine's desired state;
        Unavailable when the owner cannot be reached."""


class EquipmentDirectory(Protocol):
    """Where machines stand, asked of their owner (the products service) when
    production has not heard of a machine yet."""

    def placement(self, *, tenant_id: str, equipment_id: str) -> Placement | None: ...


class Schedules(Protocol):
    def latest(self, *, tenant_id: str, plant_id: str) -> PlantSchedule | None: ...

    def put(self, schedule: PlantSchedule) -> bool:
        """Stores it as its plant's schedule unless one of this or a later revision
        is stored (another process planned first); whether it was stored."""

    def with_work(self) -> list[tuple[str, str]]:
        """(tenant id, plant id) of every schedule with operations in it."""


class ScheduleRequests(Protocol):
    """Events the scheduler is to react to, kept until a schedule has."""

    def add(self, *, tenant_id: str, plant_id: str, trigger: Trigger) -> None: ...

    def pending(self) -> list[tuple[str, str]]:
        """(tenant id, plant id) of every plant with requests, oldest request first."""

    def of(self, *, tenant_id: str, plant_id: str) -> list[tuple[int, Trigger]]:
        """The plant's requests as (id, trigger), oldest first."""

    def remove(self, *, tenant_id: str, plant_id: str, up_to: int) -> None:
        """Removes the plant's requests with ids up to ``up_to``."""


class ExecutionUnitOfWork(UnitOfWork, Protocol):
    @property
    def calendars(self) -> Calendars: ...

    @property
    def planned_downtimes(self) -> PlannedDowntimes: ...

    @property
    def products(self) -> Products: ...

    @property
    def state_mappings(self) -> StateMappings: ...

    @property
    def placements(self) -> Placements: ...

    @property
    def work_orders(self) -> WorkOrders: ...

    @property
    def running_operations(self) -> RunningOperations: ...

    @property
    def quality_records(self) -> QualityRecords: ...

    @property
    def tracks(self) -> Tracks: ...

    @property
    def timeline(self) -> Timeline: ...

    @property
    def downtimes(self) -> Downtimes: ...

    @property
    def downtime_reasons(self) -> DowntimeReasons: ...

    @property
    def schedules(self) -> Schedules: ...

    @property
    def schedule_requests(self) -> ScheduleRequests: ...
