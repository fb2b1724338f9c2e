"""Equipment health from the telemetry stream: detection, episode events, offline.

Adapter between the telemetry handler's transaction and the monitoring domain:
it looks up each machine's signals, stores the score series and the episodes,
and stages episode events in the outbox, all in the handler's transaction.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from google.protobuf.message import Message
from prometheus_client import Counter
from sqlalchemy import Connection

from imcloud.products.v1 import equipment_events_pb2 as pb
from imcloud_core.convert import timestamp_ms
from imcloud_core.db import Database
from imcloud_core.events import Topic, new_envelope
from imcloud_core.outbox import Outbox
from imcloud_products.convert import episode_message
from imcloud_products.domain import monitoring
from imcloud_products.domain.anomaly import DetectorConfig
from imcloud_products.domain.telemetry import RecordedBatch
from imcloud_products.store.monitoring import (
    ConnectivityChange,
    SqlMonitorRepository,
    episode_row,
    model_signals,
)
from imcloud_products.store.telemetry import SqlTelemetryStore

SOURCE = "products"
EPISODES = Counter(
    "imcloud_anomaly_episodes_total", "Anomaly and data-quality episodes", ["kind", "event"]
)
SIGNALS_CACHE_S = 30.0


class HealthMonitor:
    def __init__(
        self,
        *,
        db: Database,
        store: SqlTelemetryStore,
        monitors: SqlMonitorRepository,
        outbox: Outbox,
        config: DetectorConfig,
    ) -> None:
        self._db = db
        self._store = store
        self._monitors = monitors
        self._outbox = outbox
        self._config = config
        self._signals: dict[tuple[str, str], tuple[float, tuple[str, ...] | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, transaction: Connection, batches: list[RecordedBatch]) -> None:
        if not batches:
            return

        def signals_of(tenant_id: str, equipment_id: str) -> tuple[str, ...] | None:
            return self._signals_of(transaction, tenant_id, equipment_id)

        outcome = monitoring.monitor(
            transaction,
            batches,
            monitors=self._monitors,
            signals_of=signals_of,
            config=self._config,
        )
        self._store.record_derived(transaction, outcome.scores)
        for change in outcome.changes:
            row = episode_row(change.monitor, change.event.episode)
            self._announce(transaction, row, opened=change.event.type == "opened")
        # After the announcements, which store each episode as it was at its event.
        self._monitors.save_open_episodes(transaction, outcome.monitors)

    def reset(self, *, tenant_id: str, equipment_id: str) -> int:
        """Forgets what the machine's detector learned and closes its open
        episodes (announcing it); returns how many were closed."""
        with self._db.engine.begin() as transaction:
            self._monitors.forget(transaction, tenant_id=tenant_id, equipment_id=equipment_id)
            still_open, _ = SqlMonitorRepository.episodes(
                transaction,
                tenant_id=tenant_id,
                equipment_ids=[equipment_id],
                station_ids=None,
                kind="",
                open_only=True,
                page_size=1000,
                page_token="",
            )
            for episode in still_open:
                row = {**episode.__dict__, "tenant_id": tenant_id, "closed": True}
                self._announce(transaction, row, opened=False)
        return len(still_open)

    def _announce(self, transaction: Connection, row: dict[str, Any], *, opened: bool) -> None:
        """Stores the episode as it is now and stages its event, in one transaction."""
        self._monitors.save_episodes(transaction, [row])
        EPISODES.labels(row["kind"], "opened" if opened else "closed").inc()
        message = episode_message(row)
        payload = (
            pb.AnomalyEpisodeOpened(episode=message)
            if opened
            else pb.AnomalyEpisodeClosed(episode=message)
        )
        envelope = new_envelope(
            tenant_id=row["tenant_id"],
            event_type="anomaly_episode.opened" if opened else "anomaly_episode.closed",
            payload=payload,
            source=SOURCE,
            event_id=f"{row['id']}/{'opened' if opened else 'closed'}",
        )
        self._outbox.add(
            transaction, topic=Topic.EQUIPMENT_EVENTS, key=row["equipment_id"], envelope=envelope
        )

    def _signals_of(
        self, transaction: Connection, tenant_id: str, equipment_id: str
    ) -> tuple[str, ...] | None:
        key = (tenant_id, equipment_id)
        now = time.monotonic()
        with self._lock:
            cached = self._signals.get(key)
        if cached is not None and now - cached[0] < SIGNALS_CACHE_S:
            return cached[1]
        signals = model_signals(transaction, tenant_id=tenant_id, equipment_id=equipment_id)
        with self._lock:
            self._signals[key] = (now, signals)
        return signals

    def sweep(self, *, now_ms: int, offline_after_ms: int) -> None:
        """Announces machines going offline or coming back, and closes the open
        episodes of machines that have been silent for the quiet period."""
        with self._db.engine.begin() as transaction:
            for change in self._monitors.connectivity_changes(
                transaction, now_ms=now_ms, offline_after_ms=offline_after_ms
            ):
                self._announce_connectivity(transaction, change)
            silent_since = now_ms - monitoring.EPISODE_QUIET_PERIOD_MS
            quiet = self._monitors.load(
                transaction, self._monitors.silent_with_open_episodes(transaction, silent_since)
            )
            for monitor in quiet.values():
                for tracker in (monitor.episodes.anomalies, monitor.episodes.data_quality):
                    for event in tracker.close_if_quiet(now_ms):
                        row = episode_row(monitor, event.episode)
                        self._announce(transaction, row, opened=False)
            self._monitors.save(transaction, list(quiet.values()))
            self._monitors.save_open_episodes(transaction, list(quiet.values()))

    def _announce_connectivity(self, transaction: Connection, change: ConnectivityChange) -> None:
        payload: Message
        if change.offline:
            payload = pb.EquipmentWentOffline(
                equipment_id=change.equipment_id, last_seen_time=timestamp_ms(change.last_seen_ms)
            )
        else:
            payload = pb.EquipmentCameOnline(
                equipment_id=change.equipment_id, time=timestamp_ms(change.at_ms)
            )
        envelope = new_envelope(
            tenant_id=change.tenant_id,
            event_type="equipment.offline" if change.offline else "equipment.online",
            payload=payload,
            source=SOURCE,
            event_id=f"{change.equipment_id}/{'offline' if change.offline else 'online'}/"
            f"{change.at_ms}",
        )
        self._outbox.add(
            transaction, topic=Topic.EQUIPMENT_EVENTS, key=change.equipment_id, envelope=envelope
        )
