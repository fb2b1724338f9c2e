"""The products service's own settings: how telemetry is stored and kept.

A section of the process settings (``IMCLOUD_TELEMETRY__*``); the platform
composes it with the others.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class TelemetrySettings(BaseModel):
    # Raw points older than this are dropped; the 1-minute rollups stay longer.
    retention_days: int = Field(default=30, ge=1)
    rollup_retention_days: int = Field(default=400, ge=1)
    # A machine not heard from for this long counts as disconnected.
    offline_after_s: int = Field(default=120, ge=1)
    # Telemetry records (device batches) stored per transaction: fewer means
    # points become queryable sooner, more means less overhead per point.
    consumer_batch_records: int = Field(default=40, ge=1)
    # Consumers per products process; they split the topic's partitions and let
    # parsing in Python overlap with writing in the database.
    consumers: int = Field(default=2, ge=1)
