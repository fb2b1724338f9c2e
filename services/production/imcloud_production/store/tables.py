"""The production service's tables (its own database; nobody else reads them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.sql.schema import SchemaItem

from imcloud_core.outbox import outbox_table
from imcloud_core.store import UtcDateTime, new_metadata

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
    ],
    UniqueConstraint("line_id", "name"),
    Index("ix_stations_line_created", "line_id", "create_time", "id"),
    Index("ix_stations_plant_created", "plant_id", "create_time", "id"),
)

outbox = outbox_table(metadata)
