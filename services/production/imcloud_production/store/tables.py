"""The production service's tables (its own database; nobody else reads them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.sql.schema import SchemaItem

from imcloud_core.outbox import outbox_table
from imcloud_core.store import UtcDateTime, new_metadata
from imcloud_production.domain.tracking import MINUTE_FIELDS

metadata = new_metadata()


def _structure_table(name: str, columns: Sequence[Column[Any]], *constraints: SchemaItem) -> Table:
    """A table of plants, lines or stations: what they all have, plus ``columns``
    and ``constraints``.

    Rows are listed oldest first, by tenant (the index) or by parent (an index
    each table adds); the foreign keys to parents make deleting a parent that
    still has children fail, however the requests interleave.
    """
    return Table(
        name,
        metadata,
        Column("id", String(36), primary_key=True),
        Column("tenant_id", String(36), nullable=False),
        Column("name", String(200), nullable=False),
        *columns,
        Column("create_time", UtcDateTime, nullable=False),
        Column("update_time", UtcDateTime, nullable=False),
        *constraints,
        Index(f"ix_{name}_tenant_created", "tenant_id", "create_time", "id"),
    )


plants = _structure_table(
    "plants",
    [
        Column("location", Text, nullable=False),
        Column("time_zone", String(64), nullable=False),
    ],
    UniqueConstraint("tenant_id", "name"),
)

lines = _structure_table(
    "lines",
    [
        Column("plant_id", String(36), ForeignKey("plants.id"), nullable=False),
        Column("description", Text, nullable=False),
    ],
    # Plant ids are unique across tenants, so the plant alone scopes the name.
    UniqueConstraint("plant_id", "name"),
    Index("ix_lines_plant_created", "plant_id", "create_time", "id"),
)

stations = _structure_table(
    "stations",
    [
        Column("line_id", String(36), ForeignKey("lines.id"), nullable=False),
        Column("plant_id", String(36), ForeignKey("plants.id"), nullable=False),
        Column("description", Text, nullable=False),
        Column("capabilities", JSON, nullable=False, server_default="[]"),
        Column("ideal_cycle_time_s", Float, nullable=False, server_default="0"),
        Column("ideal_cycle_times", JSON, nullable=False, server_default="{}"),
    ],
    UniqueConstraint("line_id", "name"),
    Index("ix_stations_line_created", "line_id", "create_time", "id"),
    Index("ix_stations_plant_created", "plant_id", "create_time", "id"),
)

# -- calendar ---------------------------------------------------------------------

# A plant's calendars, each in force from its effective time; the shifts and
# holidays as the domain's calendar, in JSON.
calendars = Table(
    "calendars",
    metadata,
    Column("plant_id", String(36), ForeignKey("plants.id", ondelete="CASCADE"), primary_key=True),
    Column("effective_time", UtcDateTime, primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("shifts", JSON, nullable=False),
    Column("holidays", JSON, nullable=False),
    Column("small_stop_threshold_s", Integer, nullable=False),
    Column("startup_window_s", Integer, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
)

planned_downtimes = Table(
    "planned_downtimes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("plant_id", String(36), ForeignKey("plants.id", ondelete="CASCADE"), nullable=False),
    # Empty: every station of the plant.
    Column("station_id", String(36), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("start_time", UtcDateTime, nullable=False),
    Column("end_time", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Index("ix_planned_downtimes_plant_start", "plant_id", "start_time", "id"),
)

# -- catalog ----------------------------------------------------------------------

products = Table(
    "products",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("part_number", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("unit", String(20), nullable=False),
    Column("routing", JSON, nullable=False),
    Column("bom", JSON, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "part_number"),
    Index("ix_products_tenant_created", "tenant_id", "create_time", "id"),
)

state_mappings = Table(
    "state_mappings",
    metadata,
    Column("equipment_model_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
)

# Where each machine stands and what model it is, as the products service
# announces it; telemetry names only the machine.
equipment_placements = Table(
    "equipment_placements",
    metadata,
    Column("equipment_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("equipment_model_id", String(36), nullable=False),
    Column("station_id", String(36), nullable=False),
    # The products service's update time of the machine: an older event is stale.
    Column("update_time", UtcDateTime, nullable=False),
    # The desired version the machine last said it applied (recipes wait for it).
    Column("applied_version", BigInteger, nullable=False, server_default="0"),
    Index("ix_equipment_placements_station", "station_id"),
)

# -- work orders --------------------------------------------------------------------

work_orders = Table(
    "work_orders",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("plant_id", String(36), nullable=False),
    Column("product_id", String(36), nullable=False),
    Column("part_number", String(100), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("due_time", UtcDateTime, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("note", Text, nullable=False),
    Column("cancel_reason", Text, nullable=False),
    Column("operations", JSON, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("release_time", UtcDateTime),
    Column("start_time", UtcDateTime),
    Column("end_time", UtcDateTime),
    # NULL for work orders of no customer order: the constraint skips them.
    Column("customer_order_id", String(100)),
    Column("bom", JSON, nullable=False, server_default="[]"),
    Column("routing", JSON, nullable=False, server_default="[]"),
    Index("ix_work_orders_tenant_created", "tenant_id", "create_time", "id"),
    UniqueConstraint("tenant_id", "customer_order_id"),
)

# The operation each station is running: where a machine's counts go.
running_operations = Table(
    "running_operations",
    metadata,
    Column("station_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("work_order_id", String(36), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("ideal_cycle_time_s", Float, nullable=False),
)

# -- schedules ----------------------------------------------------------------------

# Each plant's current schedule, as one document: it is read and written whole.
schedules = Table(
    "schedules",
    metadata,
    Column("plant_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("revision", Integer, nullable=False),
    # Whether it has operations: the scheduler watches only those plants.
    Column("has_work", Boolean, nullable=False),
    Column("compute_time", UtcDateTime, nullable=False),
    Column("body", JSON, nullable=False),
    Index("ix_schedules_has_work", "has_work"),
)

# Events a plant's schedule has not reacted to yet.
schedule_requests = Table(
    "schedule_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(36), nullable=False),
    Column("plant_id", String(36), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("subject_id", String(100), nullable=False),
    Column("description", Text, nullable=False),
    Column("occur_time", UtcDateTime, nullable=False),
    Index("ix_schedule_requests_plant", "plant_id", "id"),
)

quality_records = Table(
    "quality_records",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("work_order_id", String(36), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("station_id", String(36), nullable=False),
    Column("defect_code", String(50), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("scrapped", Boolean, nullable=False),
    Column("note", Text, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Index("ix_quality_records_tenant_created", "tenant_id", "create_time", "id"),
)

# -- what the machines did --------------------------------------------------------------

# What production remembers of each machine between telemetry batches.
equipment_tracks = Table(
    "equipment_tracks",
    metadata,
    Column("equipment_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("station_id", String(36), nullable=False),
    Column("state", String(20)),
    Column("since_ms", BigInteger, nullable=False),
    Column("flushed_ms", BigInteger, nullable=False),
    Column("last_ms", BigInteger, nullable=False),
    Column("good_last", Float),
    Column("scrap_last", Float),
    Column("startup_until_ms", BigInteger, nullable=False),
    Column("downtime_open", Boolean, nullable=False),
    Column("resumes_as", String(20)),
    Index("ix_equipment_tracks_station", "station_id"),
)

state_intervals = Table(
    "state_intervals",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("tenant_id", String(36), nullable=False),
    Column("station_id", String(36), nullable=False),
    Column("equipment_id", String(36), nullable=False),
    Column("state", String(20), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Index("ix_state_intervals_station_start", "station_id", "start_ms"),
)

downtimes = Table(
    "downtimes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("plant_id", String(36), nullable=False),
    Column("line_id", String(36), nullable=False),
    Column("station_id", String(36), nullable=False),
    Column("equipment_id", String(36), nullable=False),
    Column("state", String(20), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger),
    Column("reason_code", String(50), nullable=False),
    Column("category", String(20), nullable=False),
    Column("reason_actor", String(200), nullable=False),
    UniqueConstraint("equipment_id", "start_ms"),
    Index("ix_downtimes_station_start", "station_id", "start_ms"),
    Index("ix_downtimes_line_start", "line_id", "start_ms"),
    Index("ix_downtimes_plant_start", "plant_id", "start_ms"),
)

downtime_reasons = Table(
    "downtime_reasons",
    metadata,
    Column("tenant_id", String(36), nullable=False),
    Column("code", String(50), nullable=False),
    Column("name", String(200), nullable=False),
    Column("parent_code", String(50), nullable=False),
    Column("category", String(20), nullable=False),
    PrimaryKeyConstraint("tenant_id", "code"),
)


def _time_by_state(name: str, period: str, *columns: Column[Any]) -> Table:
    """Seconds by state and units counted, per machine and ``period`` (ms)."""
    return Table(
        name,
        metadata,
        Column("station_id", String(36), nullable=False),
        Column("equipment_id", String(36), nullable=False),
        Column(period, BigInteger, nullable=False),
        Column("tenant_id", String(36), nullable=False),
        *(Column(field, Float, nullable=False, server_default="0") for field in MINUTE_FIELDS),
        *columns,
        PrimaryKeyConstraint("station_id", period, "equipment_id"),
    )


# Every minute a machine reported, planned or not (as the calendar was when it was
# counted): what a range's first and last hours are read from.
station_minutes = _time_by_state(
    "station_minutes", "minute_ms", Column("planned", Boolean, nullable=False)
)
# The planned minutes of each hour, and of each UTC day, summed: what longer
# ranges are read from.
station_hours = _time_by_state("station_hours", "hour_ms")
station_days = _time_by_state("station_days", "day_ms")

outbox = outbox_table(metadata)
