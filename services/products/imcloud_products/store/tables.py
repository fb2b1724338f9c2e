"""The products service's tables (its own database; nobody else reads them)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
)

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

# The desired side of each machine's twin (a row once something was desired of it).
desired_states = Table(
    "desired_states",
    metadata,
    # The equipment id.
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("properties", JSON, nullable=False),
    # The version whose change last set each property.
    Column("property_versions", JSON, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("update_actor", String(200), nullable=False),
    Column("update_time", UtcDateTime, nullable=True),
    Column("applied_version", BigInteger, nullable=False),
    Column("applied_detail", String(1000), nullable=False),
    Column("applied_time", UtcDateTime, nullable=True),
)

# -- telemetry -------------------------------------------------------------------
# A series is one signal of one machine; points refer to it by a small integer
# key so that the points table stays narrow (it holds most of the data).

telemetry_series = Table(
    "telemetry_series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(36), nullable=False),
    Column("equipment_id", String(36), nullable=False),
    Column("signal", String(64), nullable=False),
    UniqueConstraint("tenant_id", "equipment_id", "signal"),
)

# The batches stored so far: a redelivered batch is recognised and skipped whole.
telemetry_batches = Table(
    "telemetry_batches",
    metadata,
    Column("equipment_id", String(36), primary_key=True),
    Column("sequence_id", BigInteger, primary_key=True),
    # A checksum of the batch's content: the same id with other content is no resend.
    Column("fingerprint", BigInteger, nullable=False),
    Column("receive_ms", BigInteger, nullable=False),
    Index("ix_telemetry_batches_receive", "receive_ms"),
)

# Range-partitioned by day on PostgreSQL: retention drops whole partitions.
telemetry_points = Table(
    "telemetry_points",
    metadata,
    Column("series_id", Integer, primary_key=True),
    Column("ts_ms", BigInteger, primary_key=True),
    Column("value", Double, nullable=False),
    # Bit 0: outside the signal's valid range.
    Column("flags", SmallInteger, nullable=False),
    postgresql_partition_by="RANGE (ts_ms)",
)

# Per-minute summaries, kept longer than raw points: charts over months read these.
telemetry_rollups = Table(
    "telemetry_rollups",
    metadata,
    Column("series_id", Integer, primary_key=True),
    Column("bucket_ms", BigInteger, primary_key=True),
    Column("min", Double, nullable=False),
    Column("max", Double, nullable=False),
    Column("sum", Double, nullable=False),
    Column("count", BigInteger, nullable=False),
)

# The reported side of each machine's twin.
twin_signals = Table(
    "twin_signals",
    metadata,
    Column("series_id", Integer, primary_key=True),
    Column("ts_ms", BigInteger, nullable=False),
    Column("value", Double, nullable=False),
    Column("flags", SmallInteger, nullable=False),
)

twins = Table(
    "twins",
    metadata,
    Column("equipment_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("last_seen_ms", BigInteger, nullable=True),
    # The device link's state and when it last changed (ordering of redeliveries).
    Column("link_open", Boolean, nullable=False),
    Column("link_change_ms", BigInteger, nullable=False),
    # Set while the machine counts as offline (and its offline event was sent).
    Column("offline_since_ms", BigInteger, nullable=True),
)

# -- equipment health ------------------------------------------------------------

# Each machine's anomaly detector and episode trackers, saved after every batch.
machine_monitors = Table(
    "machine_monitors",
    metadata,
    Column("equipment_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("state", JSON, nullable=False),
    # In units of the alarm threshold; NULL while the detector is learning.
    Column("latest_score", Double, nullable=True),
)

anomaly_episodes = Table(
    "anomaly_episodes",
    metadata,
    Column("id", String(120), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("equipment_id", String(36), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("peak_score", Double, nullable=False),
    Column("peak_ms", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("top_signals", JSON, nullable=False),
    Column("quality_issues", JSON, nullable=False),
    Column("closed", Boolean, nullable=False),
    Index("ix_anomaly_episodes_tenant_equipment", "tenant_id", "equipment_id", "start_ms"),
)

outbox = outbox_table(metadata)
