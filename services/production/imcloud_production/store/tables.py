"""The production service's tables (its own database; nobody else reads them)."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text, UniqueConstraint

from imcloud_core.outbox import outbox_table
from imcloud_core.store import UtcDateTime, new_metadata

metadata = new_metadata()

plants = Table(
    "plants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("name", String(200), nullable=False),
    Column("location", Text, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "name"),
    Index("ix_plants_tenant_created", "tenant_id", "create_time", "id"),
)

outbox = outbox_table(metadata)
