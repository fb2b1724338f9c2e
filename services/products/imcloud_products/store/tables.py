"""The products service's tables (its own database; nobody else reads them)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, String, Table, UniqueConstraint

from imcloud_core.outbox import outbox_table
from imcloud_core.store import UtcDateTime, new_metadata

metadata = new_metadata()

equipment_models = Table(
    "equipment_models",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("name", String(200), nullable=False),
    Column("manufacturer", String(200), nullable=False),
    # The signal definitions, always read and written with their model.
    Column("signals", JSON, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "name"),
    Index("ix_equipment_models_tenant_created", "tenant_id", "create_time", "id"),
)

equipment = Table(
    "equipment",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("equipment_model_id", String(36), nullable=False),
    Column("serial_number", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("station_id", String(36), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "equipment_model_id", "serial_number"),
    Index("ix_equipment_tenant_created", "tenant_id", "create_time", "id"),
    Index("ix_equipment_tenant_station", "tenant_id", "station_id"),
)

outbox = outbox_table(metadata)
