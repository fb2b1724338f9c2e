"""Saved detector state and the anomaly episodes, in the products database."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, delete, select

from imcloud_core.db import Database, conflict_insert
from imcloud_core.store import keyset_page
from imcloud_products.domain.model import AnomalyEpisode
from imcloud_products.domain.monitoring import MachineMonitor
from imcloud_products.store.tables import (
    anomaly_episodes,
    equipment,
    equipment_models,
    machine_monitors,
    twins,
)

SIGNALS_CACHE_S = 30.0
# What an episode's later snapshots change; the rest is fixed when it opens.
EPISODE_UPDATES = (
    "end_ms",
    "peak_score",
    "peak_ms",
    "rows",
    "severity",
    "top_signals",
    "quality_issues",
    "closed",
)


class ModelSignals:
    """The signal names of each machine's model, looked up at most every
    SIGNALS_CACHE_S per machine: every telemetry batch asks."""

    def __init__(self) -> None:
        self._signals: dict[tuple[str, str], tuple[float, tuple[str, ...] | None]] = {}
        self._lock = threading.Lock()

    def of(
        self, connection: Connection, *, tenant_id: str, equipment_id: str
    ) -> tuple[str, ...] | None:
        key = (tenant_id, equipment_id)
        now = time.monotonic()
        with self._lock:
            cached = self._signals.get(key)
        if cached is not None and now - cached[0] < SIGNALS_CACHE_S:
            return cached[1]
        signals = model_signals(connection, tenant_id=tenant_id, equipment_id=equipment_id)
        with self._lock:
            self._signals[key] = (now, signals)
        return signals


class SqlMonitorRepository:
    """The machines' monitors, in the caller's transaction."""

    def __init__(self, connection: Connection, signals: ModelSignals) -> None:
        self._connection = connection
        self._insert = conflict_insert(connection.engine)
        self._signals = signals

    def load(self, equipment_ids: list[str]) -> dict[str, MachineMonitor]:
        rows = self._connection.execute(
            select(machine_monitors).where(machine_monitors.c.equipment_id.in_(equipment_ids))
        ).all()
        return {
            row.equipment_id: MachineMonitor.from_state(row.tenant_id, row.equipment_id, row.state)
            for row in rows
        }

    def save(self, monitors: list[MachineMonitor]) -> None:
        if not monitors:
            return
        statement = self._insert(machine_monitors)
        statement = statement.on_conflict_do_update(
            index_elements=[machine_monitors.c.equipment_id],
            set_={
                "state": statement.excluded.state,
                "latest_score": statement.excluded.latest_score,
            },
        )
        self._connection.execute(
            statement,
            [
                {
                    "equipment_id": m.equipment_id,
                    "tenant_id": m.tenant_id,
                    "state": m.to_state(),
                    "latest_score": m.latest_score,
                }
                for m in monitors
            ],
        )

    def forget(self, *, tenant_id: str, equipment_id: str) -> None:
        self._connection.execute(
            delete(machine_monitors).where(
                machine_monitors.c.tenant_id == tenant_id,
                machine_monitors.c.equipment_id == equipment_id,
            )
        )

    def silent_with_open_episodes(self, silent_since_ms: int) -> list[str]:
        return list(
            self._connection.execute(
                select(anomaly_episodes.c.equipment_id)
                .distinct()
                .join(twins, twins.c.equipment_id == anomaly_episodes.c.equipment_id)
                .where(
                    anomaly_episodes.c.closed.is_(False),
                    twins.c.last_seen_ms < silent_since_ms,
                )
            ).scalars()
        )

    def signals_of(self, *, tenant_id: str, equipment_id: str) -> tuple[str, ...] | None:
        return self._signals.of(self._connection, tenant_id=tenant_id, equipment_id=equipment_id)


class SqlEpisodeRepository:
    """The episodes, in the caller's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._insert = conflict_insert(connection.engine)

    def save(self, episodes: list[AnomalyEpisode]) -> None:
        if not episodes:
            return
        statement = self._insert(anomaly_episodes)
        statement = statement.on_conflict_do_update(
            index_elements=[anomaly_episodes.c.id],
            set_={column: statement.excluded[column] for column in EPISODE_UPDATES},
        )
        self._connection.execute(
            statement,
            [
                {
                    **e.__dict__,
                    "top_signals": list(e.top_signals),
                    "quality_issues": list(e.quality_issues),
                }
                for e in episodes
            ],
        )

    def open_of(self, *, tenant_id: str, equipment_id: str) -> list[AnomalyEpisode]:
        return open_episodes(
            self._connection, tenant_id=tenant_id, equipment_id=equipment_id, limit=1000
        )


# A twin shows at most this many of a machine's open episodes, the newest.
OPEN_EPISODES_SHOWN = 100


class SqlHealthReader:
    """Health questions for the API, each in its own short read."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def latest_scores(self, *, tenant_id: str, equipment_ids: Sequence[str]) -> dict[str, float]:
        m = machine_monitors.c
        with self._db.engine.connect() as connection:
            rows = connection.execute(
                select(m.equipment_id, m.latest_score).where(
                    m.tenant_id == tenant_id,
                    m.equipment_id.in_(list(equipment_ids)),
                    m.latest_score.is_not(None),
                )
            )
            return {row.equipment_id: row.latest_score for row in rows}

    def open_episodes(
        self, *, tenant_id: str, equipment_ids: Sequence[str]
    ) -> dict[str, list[AnomalyEpisode]]:
        e = anomaly_episodes.c
        with self._db.engine.connect() as connection:
            rows = connection.execute(
                select(anomaly_episodes)
                .where(
                    e.tenant_id == tenant_id,
                    e.equipment_id.in_(list(equipment_ids)),
                    e.closed.is_(False),
                )
                .order_by(e.start_ms.desc(), e.id.desc())
            )
            found: dict[str, list[AnomalyEpisode]] = {}
            for row in rows:
                of_machine = found.setdefault(row.equipment_id, [])
                if len(of_machine) < OPEN_EPISODES_SHOWN:
                    of_machine.append(_episode(row))
            return found

    def episodes(self, **query: Any) -> tuple[list[AnomalyEpisode], str]:
        with self._db.engine.connect() as connection:
            return episodes_page(connection, **query)


def episodes_page(
    connection: Connection,
    *,
    tenant_id: str,
    equipment_ids: list[str] | None,
    station_ids: list[str] | None,
    kind: str,
    open_only: bool,
    page_size: int,
    page_token: str,
) -> tuple[list[AnomalyEpisode], str]:
    """Newest first; of the listed machines, or of the machines at the stations."""
    e = anomaly_episodes.c
    conditions: list[ColumnElement[bool]] = [e.tenant_id == tenant_id]
    if equipment_ids is not None:
        conditions.append(e.equipment_id.in_(equipment_ids))
    if station_ids is not None:
        placed = select(equipment.c.id).where(
            equipment.c.tenant_id == tenant_id, equipment.c.station_id.in_(station_ids)
        )
        conditions.append(e.equipment_id.in_(placed))
    if kind:
        conditions.append(e.kind == kind)
    if open_only:
        conditions.append(e.closed.is_(False))
    rows, token = keyset_page(
        connection,
        select(anomaly_episodes).where(*conditions),
        created=e.start_ms,
        key=e.id,
        page_size=page_size,
        page_token=page_token,
        newest_first=True,
    )
    return [_episode(r) for r in rows], token


def open_episodes(
    connection: Connection, *, tenant_id: str, equipment_id: str, limit: int
) -> list[AnomalyEpisode]:
    still_open, _ = episodes_page(
        connection,
        tenant_id=tenant_id,
        equipment_ids=[equipment_id],
        station_ids=None,
        kind="",
        open_only=True,
        page_size=limit,
        page_token="",
    )
    return still_open


def _episode(row: Row[Any]) -> AnomalyEpisode:
    values = row._asdict()
    return AnomalyEpisode(
        **{
            **values,
            "top_signals": tuple(values["top_signals"]),
            "quality_issues": tuple(values["quality_issues"]),
        }
    )


def model_signals(
    connection: Connection, *, tenant_id: str, equipment_id: str
) -> tuple[str, ...] | None:
    """The signal names of the machine's equipment model, in the model's order."""
    signals = connection.execute(
        select(equipment_models.c.signals)
        .join(equipment, equipment.c.equipment_model_id == equipment_models.c.id)
        .where(equipment.c.tenant_id == tenant_id, equipment.c.id == equipment_id)
    ).scalar()
    if signals is None:
        return None
    return tuple(s["name"] for s in signals)
