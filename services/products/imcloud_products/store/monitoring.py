"""Saved detector state and the anomaly episodes, in the products database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, select, update

from imcloud_core.db import Database, conflict_insert
from imcloud_core.store import keyset_page
from imcloud_products.domain.anomaly import Episode
from imcloud_products.domain.monitoring import MachineMonitor, quality_issues
from imcloud_products.store.tables import (
    anomaly_episodes,
    equipment,
    equipment_models,
    machine_monitors,
    twins,
)


@dataclass(frozen=True)
class StoredEpisode:
    id: str
    equipment_id: str
    kind: str
    start_ms: int
    end_ms: int
    peak_score: float
    peak_ms: int
    rows: int
    severity: str
    top_signals: list[str]
    quality_issues: list[str]
    closed: bool


def episode_row(monitor: MachineMonitor, episode: Episode) -> dict[str, Any]:
    """The machine's episode as stored and announced."""
    # Anomaly scores are kept in units of the alarm threshold; data-quality
    # "scores" are already a share of signals.
    scale = monitor.detector.config.threshold_on if episode.kind == "anomaly" else 1.0
    return {
        "id": monitor.episode_id(episode),
        "tenant_id": monitor.tenant_id,
        "equipment_id": monitor.equipment_id,
        "kind": episode.kind,
        "start_ms": episode.start_ms,
        "end_ms": episode.end_ms,
        "peak_score": episode.peak_score / scale,
        "peak_ms": episode.peak_ms,
        "rows": episode.rows,
        "severity": episode.severity,
        "top_signals": episode.top_signals(),
        "quality_issues": quality_issues(episode),
        "closed": episode.closed,
    }


@dataclass(frozen=True)
class ConnectivityChange:
    tenant_id: str
    equipment_id: str
    offline: bool
    at_ms: int
    last_seen_ms: int


class SqlMonitorRepository:
    def __init__(self, db: Database) -> None:
        self._insert = conflict_insert(db.engine)

    def load(self, transaction: Connection, equipment_ids: list[str]) -> dict[str, MachineMonitor]:
        rows = transaction.execute(
            select(machine_monitors).where(machine_monitors.c.equipment_id.in_(equipment_ids))
        ).all()
        return {
            row.equipment_id: MachineMonitor.from_state(row.tenant_id, row.equipment_id, row.state)
            for row in rows
        }

    def save(self, transaction: Connection, monitors: list[MachineMonitor]) -> None:
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
        transaction.execute(
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

    def save_open_episodes(self, transaction: Connection, monitors: list[MachineMonitor]) -> None:
        """Open episodes grow with every batch: keeps their stored copy current."""
        self.save_episodes(
            transaction,
            [
                episode_row(m, tracker.current)
                for m in monitors
                for tracker in (m.episodes.anomalies, m.episodes.data_quality)
                if tracker.current is not None
            ],
        )

    def save_episodes(self, transaction: Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        statement = self._insert(anomaly_episodes)
        statement = statement.on_conflict_do_update(
            index_elements=[anomaly_episodes.c.id],
            set_={
                column: statement.excluded[column]
                for column in (
                    "end_ms",
                    "peak_score",
                    "peak_ms",
                    "rows",
                    "severity",
                    "top_signals",
                    "quality_issues",
                    "closed",
                )
            },
        )
        transaction.execute(statement, rows)

    def forget(self, transaction: Connection, *, tenant_id: str, equipment_id: str) -> None:
        transaction.execute(
            delete(machine_monitors).where(
                machine_monitors.c.tenant_id == tenant_id,
                machine_monitors.c.equipment_id == equipment_id,
            )
        )

    def connectivity_changes(
        self, transaction: Connection, *, now_ms: int, offline_after_ms: int
    ) -> list[ConnectivityChange]:
        """Marks machines that went offline or came back, and says which.

        A machine is offline when its device link is closed and it has not sent
        over HTTP since, or when it sends over HTTP only and fell silent.
        """
        t = twins.c
        heard_recently = (t.last_seen_ms > now_ms - offline_after_ms) & (
            t.last_seen_ms > t.link_change_ms
        )
        connected = t.link_open | heard_recently
        went = transaction.execute(
            update(twins)
            .where(t.offline_since_ms.is_(None), ~connected, t.last_seen_ms.is_not(None))
            .values(offline_since_ms=now_ms)
            .returning(t.tenant_id, t.equipment_id, t.last_seen_ms)
        ).all()
        came = transaction.execute(
            update(twins)
            .where(t.offline_since_ms.is_not(None), connected)
            .values(offline_since_ms=None)
            .returning(t.tenant_id, t.equipment_id, t.last_seen_ms)
        ).all()
        return [
            ConnectivityChange(r.tenant_id, r.equipment_id, True, now_ms, r.last_seen_ms)
            for r in went
        ] + [
            ConnectivityChange(r.tenant_id, r.equipment_id, False, now_ms, r.last_seen_ms)
            for r in came
        ]

    @staticmethod
    def silent_with_open_episodes(transaction: Connection, silent_since_ms: int) -> list[str]:
        return list(
            transaction.execute(
                select(anomaly_episodes.c.equipment_id)
                .distinct()
                .join(twins, twins.c.equipment_id == anomaly_episodes.c.equipment_id)
                .where(
                    anomaly_episodes.c.closed.is_(False),
                    twins.c.last_seen_ms < silent_since_ms,
                )
            ).scalars()
        )

    @staticmethod
    def latest_score(transaction: Connection, *, tenant_id: str, equipment_id: str) -> float | None:
        return transaction.execute(
            select(machine_monitors.c.latest_score).where(
                machine_monitors.c.tenant_id == tenant_id,
                machine_monitors.c.equipment_id == equipment_id,
            )
        ).scalar()

    @staticmethod
    def episodes(
        transaction: Connection,
        *,
        tenant_id: str,
        equipment_ids: list[str] | None,
        station_ids: list[str] | None,
        kind: str,
        open_only: bool,
        page_size: int,
        page_token: str,
    ) -> tuple[list[StoredEpisode], str]:
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
            transaction,
            select(anomaly_episodes).where(*conditions),
            created=e.start_ms,
            key=e.id,
            page_size=page_size,
            page_token=page_token,
            newest_first=True,
        )
        return [
            StoredEpisode(**{k: v for k, v in r._asdict().items() if k != "tenant_id"})
            for r in rows
        ], token


def model_signals(
    transaction: Connection, *, tenant_id: str, equipment_id: str
) -> tuple[str, ...] | None:
    """The signal names of the machine's equipment model, in the model's order."""
    signals = transaction.execute(
        select(equipment_models.c.signals)
        .join(equipment, equipment.c.equipment_model_id == equipment_models.c.id)
        .where(equipment.c.tenant_id == tenant_id, equipment.c.id == equipment_id)
    ).scalar()
    if signals is None:
        return None
    return tuple(s["name"] for s in signals)


class SqlHealthReader:
    """Health questions for the API, each in its own short read."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def latest_score(self, *, tenant_id: str, equipment_id: str) -> float | None:
        with self._db.engine.connect() as connection:
            return SqlMonitorRepository.latest_score(
                connection, tenant_id=tenant_id, equipment_id=equipment_id
            )

    def episodes(self, **query: Any) -> tuple[list[StoredEpisode], str]:
        with self._db.engine.connect() as connection:
            return SqlMonitorRepository.episodes(connection, **query)
