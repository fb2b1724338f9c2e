"""The servitization service's tables (its own database; nobody else reads them)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, String, Table, Text

from imcloud_core.outbox import outbox_table
from imcloud_core.store import UtcDateTime, new_metadata

metadata = new_metadata()

maintenance_tickets = Table(
    "maintenance_tickets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("equipment_id", String(36), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("priority", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("source_episode_id", String(120), nullable=False, server_default=""),
    Index("ix_maintenance_tickets_tenant_created", "tenant_id", "create_time", "id"),
    Index("ix_maintenance_tickets_tenant_episode", "tenant_id", "source_episode_id"),
    Index("ix_maintenance_tickets_tenant_equipment", "tenant_id", "equipment_id"),
)

remote_commands = Table(
    "remote_commands",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("equipment_id", String(36), nullable=False),
    Column("name", String(64), nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("detail", Text, nullable=False),
    Column("requested_by", String(120), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("expire_time", UtcDateTime, nullable=False),
    Index("ix_remote_commands_tenant_equipment", "tenant_id", "equipment_id", "create_time"),
    Index("ix_remote_commands_state_expiry", "state", "expire_time"),
)

outbox = outbox_table(metadata)
