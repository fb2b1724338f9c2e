"""The twin's state: each series' newest point, when the machine was last heard
from, its device link, and whether it counts as offline.

Every write compares times, so a redelivered or late event cannot undo a newer one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, update

from imcloud_products.domain.events import ConnectivityChanged
from imcloud_products.domain.telemetry import LinkChange, RecordedBatch
from imcloud_products.store.tables import twin_signals, twins
from imcloud_products.store.telemetry.columns import Columns
from imcloud_products.store.telemetry.dialect import Insert


def keep_newest(connection: Connection, insert: Insert, points: Columns) -> None:
    """Makes each series' newest point its twin value, unless a newer one is there."""
    statement = insert(twin_signals)
    statement = statement.on_conflict_do_update(
        index_elements=[twin_signals.c.series_id],
        set_={
            "ts_ms": statement.excluded.ts_ms,
            "value": statement.excluded.value,
            "flags": statement.excluded.flags,
        },
        where=statement.excluded.ts_ms > twin_signals.c.ts_ms,
    )
    connection.execute(statement, points.newest_per_series().rows())


def update_last_seen(connection: Connection, insert: Insert, batches: list[RecordedBatch]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for batch in batches:
        key = (batch.tenant_id, batch.equipment_id)
        seen[key] = max(seen.get(key, 0), batch.receive_ms)
    _upsert(
        connection,
        insert,
        [
            {
                "tenant_id": t,
                "equipment_id": e,
                "last_seen_ms": ms,
                "link_open": False,
                "link_change_ms": 0,
            }
            for (t, e), ms in seen.items()
        ],
        update={"last_seen_ms": "last_seen_ms"},
        newer_than="last_seen_ms",
    )


def record_link_changes(connection: Connection, insert: Insert, changes: list[LinkChange]) -> None:
    _upsert(
        connection,
        insert,
        [
            {
                "tenant_id": c.tenant_id,
                "equipment_id": c.equipment_id,
                "last_seen_ms": None,
                "link_open": c.link_open,
                "link_change_ms": c.change_ms,
            }
            for c in changes
        ],
        update={"link_open": "link_open", "link_change_ms": "link_change_ms"},
        newer_than="link_change_ms",
    )


def _upsert(
    connection: Connection,
    insert: Insert,
    rows: list[dict[str, Any]],
    *,
    update: dict[str, str],
    newer_than: str,
) -> None:
    """Inserts twins, or updates the named columns where the row is newer."""
    if not rows:
        return
    statement = insert(twins)
    current = twins.c[newer_than]
    statement = statement.on_conflict_do_update(
        index_elements=[twins.c.equipment_id],
        set_={column: statement.excluded[source] for column, source in update.items()},
        where=func.coalesce(current, -1) < statement.excluded[newer_than],
    )
    for row in sorted(rows, key=lambda r: r["equipment_id"]):  # stable lock order
        connection.execute(statement, row)


def connectivity_changes(
    connection: Connection, *, now_ms: int, offline_after_ms: int
) -> list[ConnectivityChanged]:
    """Marks machines that went offline or came back, and says which.

    A machine is offline when its device link is closed and it has not sent
    over HTTP since, or when it sends over HTTP only and fell silent.
    """
    t = twins.c
    heard_recently = (t.last_seen_ms > now_ms - offline_after_ms) & (
        t.last_seen_ms > t.link_change_ms
    )
    connected = t.link_open | heard_recently
    went = connection.execute(
        update(twins)
        .where(t.offline_since_ms.is_(None), ~connected, t.last_seen_ms.is_not(None))
        .values(offline_since_ms=now_ms)
        .returning(t.tenant_id, t.equipment_id, t.last_seen_ms)
    ).all()
    came = connection.execute(
        update(twins)
        .where(t.offline_since_ms.is_not(None), connected)
        .values(offline_since_ms=None)
        .returning(t.tenant_id, t.equipment_id, t.last_seen_ms)
    ).all()
    return [
        ConnectivityChanged(r.tenant_id, r.equipment_id, True, now_ms, r.last_seen_ms) for r in went
    ] + [
        ConnectivityChanged(r.tenant_id, r.equipment_id, False, now_ms, r.last_seen_ms)
        for r in came
    ]
