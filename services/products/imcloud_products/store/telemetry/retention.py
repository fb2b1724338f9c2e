"""Retention: raw points, their per-minute rollups and the batch ledger are each
kept for a while, then dropped."""

from __future__ import annotations

from imcloud_core.db import Database
from imcloud_products.store.tables import telemetry_rollups
from imcloud_products.store.telemetry import ledger
from imcloud_products.store.telemetry.dialect import Dialect


def apply_retention(
    db: Database, dialect: Dialect, *, now_ms: int, points_ms: int, rollups_ms: int
) -> None:
    """Drops what is older than its retention, and readies the next days' storage."""
    dialect.prepare(now_ms)
    points_before = now_ms - points_ms
    with db.engine.begin() as connection:
        dialect.drop_points_before(connection, points_before)
        connection.execute(
            telemetry_rollups.delete().where(telemetry_rollups.c.bucket_ms < now_ms - rollups_ms)
        )
        ledger.forget_before(connection, points_before)
