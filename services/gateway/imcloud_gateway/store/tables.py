"""The gateway's tables: tenants and their credentials (its own database)."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, UniqueConstraint

from imcloud_core.outbox import outbox_table
from imcloud_core.store import UtcDateTime, new_metadata

metadata = new_metadata()

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    UniqueConstraint("name"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("expire_time", UtcDateTime, nullable=True),
    Column("revoke_time", UtcDateTime, nullable=True),
    Index("ix_api_keys_tenant_created", "tenant_id", "create_time", "id"),
)

outbox = outbox_table(metadata)
