"""The gateway's tables: tenants and their credentials (its own database)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table

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
    Column("offboard_time", UtcDateTime, nullable=True),
)

# Where each tenant's dedicated resources stand (tenant API shows it).
tenant_provisioning = Table(
    "tenant_provisioning",
    metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("namespace", String(63), nullable=False),
    Column("message", String(1000), nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
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

device_credentials = Table(
    "device_credentials",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("equipment_id", String(36), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("rotate_time", UtcDateTime, nullable=True),
    Column("revoke_time", UtcDateTime, nullable=True),
    Index("ix_device_credentials_tenant_equipment", "tenant_id", "equipment_id", "create_time"),
)

access_grants = Table(
    "access_grants",
    metadata,
    Column("id", String(36), primary_key=True),
    # The owner of the equipment, who gave the grant.
    Column("tenant_id", String(36), nullable=False),
    Column("grantee_tenant_id", String(36), nullable=False),
    Column("equipment_id", String(36), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("expire_time", UtcDateTime, nullable=True),
    Column("revoke_time", UtcDateTime, nullable=True),
    Index("ix_access_grants_tenant_created", "tenant_id", "create_time", "id"),
    Index("ix_access_grants_grantee", "grantee_tenant_id", "equipment_id"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("time", UtcDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("actor_tenant_id", String(36), nullable=False),
    Column("action", String(200), nullable=False),
    Column("resource", String(500), nullable=False),
    Column("status", Integer, nullable=False),
    Column("source_ip", String(64), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("grant_id", String(36), nullable=False),
    Index("ix_audit_events_tenant_time", "tenant_id", "time", "id"),
)

outbox = outbox_table(metadata)
