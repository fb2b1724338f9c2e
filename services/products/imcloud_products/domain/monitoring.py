"""Equipment health: each machine's telemetry runs through its own online
anomaly detector, whose flags become episodes, scores and a health figure.

Plain computation over saved monitors and new batches; services.record_telemetry
runs it on the points new to the store, in the transaction that stores them, so
every row is scored exactly once even when Kafka delivers a batch again or a
device resends one under a new sequence id, and a restart continues from the
saved state as if nothing happened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from imcloud_products.domain.anomaly import (
    DetectionResult,
    DetectorConfig,
    Episode,
    EpisodeEvent,
    EpisodeTracker,
    MachineEpisodes,
    QualityFlag,
    StreamingAnomalyDetector,
)
from imcloud_products.domain.events import EpisodeClosed, EpisodeEscalated, EpisodeOpened
from imcloud_products.domain.model import AnomalyEpisode
from imcloud_products.domain.telemetry import RecordedBatch, RecordedSeries

# The per-row anomaly score of each machine is kept as a series of its own, so
# it can be charted and replayed like any signal. Model signals start with a
# letter, so this name cannot collide with one.
SCORE_SIGNAL = "_anomaly_score"
FLAG_ANOMALY = 2
FLAG_DATA_QUALITY = 4
EPISODE_QUIET_PERIOD_MS = 60_000

EpisodeNews = EpisodeOpened | EpisodeEscalated | EpisodeClosed
NEWS: dict[str, type[EpisodeNews]] = {
    "opened": EpisodeOpened,
    "escalated": EpisodeEscalated,
    "closed": EpisodeClosed,
}

QUALITY_ISSUES = {
    QualityFlag.MISSING_VALUES: "missing",
    QualityFlag.ALL_MISSING: "all_missing",
    QualityFlag.STUCK_SENSOR: "stuck",
    QualityFlag.TIME_GAP: "time_gap",
    QualityFlag.TIME_BACKWARDS: "time_backwards",
}


@dataclass
class MachineMonitor:
    tenant_id: str
    equipment_id: str
    detector: StreamingAnomalyDetector
    episodes: MachineEpisodes
    # Tells this detector's episodes from those of earlier ones (before a reset):
    # the time of the first row it saw.
    generation: int
    # The latest score in units of the alarm threshold; None while learning.
    latest_score: float | None = None

    @classmethod
    def fresh(
        cls,
        *,
        tenant_id: str,
        equipment_id: str,
        signals: Sequence[str],
        config: DetectorConfig,
        generation: int,
    ) -> MachineMonitor:
        return cls(
            tenant_id=tenant_id,
            equipment_id=equipment_id,
            detector=StreamingAnomalyDetector(signals, config),
            episodes=MachineEpisodes(EPISODE_QUIET_PERIOD_MS, threshold_on=config.threshold_on),
            generation=generation,
        )

    @property
    def signals(self) -> tuple[str, ...]:
        return self.detector.signal_names

    @property
    def trackers(self) -> tuple[EpisodeTracker, EpisodeTracker]:
        return self.episodes.anomalies, self.episodes.data_quality

    def episode(self, episode: Episode) -> AnomalyEpisode:
        """The tracker's episode as stored and announced."""
        # Anomaly scores are kept in units of the alarm threshold; data-quality
        # "scores" are already a share of signals.
        scale = self.detector.config.threshold_on if episode.kind == "anomaly" else 1.0
        return AnomalyEpisode(
            id=f"{self.equipment_id}/{episode.kind}/{self.generation}-{episode.episode_id}",
            tenant_id=self.tenant_id,
            equipment_id=self.equipment_id,
            kind=episode.kind,
            start_ms=episode.start_ms,
            end_ms=episode.end_ms,
            peak_score=episode.peak_score / scale,
            peak_ms=episode.peak_ms,
            rows=episode.rows,
            severity=episode.severity,
            top_signals=tuple(episode.top_signals()),
            quality_issues=quality_issues(episode),
            closed=episode.closed,
        )

    def open_episodes(self) -> list[AnomalyEpisode]:
        return [self.episode(t.current) for t in self.trackers if t.current is not None]

    def to_state(self) -> dict[str, Any]:
        return {
            "detector": self.detector.to_state(),
            "episodes": self.episodes.to_state(),
            "generation": self.generation,
            "latest_score": self.latest_score,
        }

    @classmethod
    def from_state(cls, tenant_id: str, equipment_id: str, state: dict[str, Any]) -> MachineMonitor:
        return cls(
            tenant_id=tenant_id,
            equipment_id=equipment_id,
            detector=StreamingAnomalyDetector.from_state(state["detector"]),
            episodes=MachineEpisodes.from_state(state["episodes"]),
            generation=int(state["generation"]),
            latest_score=state["latest_score"],
        )


@dataclass(frozen=True)
class HealthChanges:
    """What scoring rows, or closing quiet episodes, changed: for the store and the outbox."""

    # Per batch: the score of every row, as a series to store.
    scores: list[RecordedBatch]
    # The monitors that changed, as they are now.
    monitors: list[MachineMonitor]
    # Each episode that changed, once, as it is now.
    episodes: list[AnomalyEpisode]
    # Episodes opened, escalated and closed, in the order of the rows that did it.
    events: list[EpisodeNews]


MachineSignals = Mapping[tuple[str, str], tuple[str, ...] | None]
"""(tenant id, equipment id) -> the machine's model signals; None if it is gone."""


def assess(
    batches: Sequence[RecordedBatch],
    *,
    monitors: Mapping[str, MachineMonitor],
    signals: MachineSignals,
    config: DetectorConfig,
) -> HealthChanges:
    """Scores the batches' rows, machine by machine, in the order they arrived.

    ``monitors`` are the saved monitors of the batches' machines (by equipment id).
    """
    touched: dict[str, MachineMonitor] = {}
    scores: list[RecordedBatch] = []
    changes: list[tuple[MachineMonitor, EpisodeEvent]] = []
    for batch in batches:
        machine_signals = signals.get((batch.tenant_id, batch.equipment_id))
        if not machine_signals:
            continue
        current = touched.get(batch.equipment_id) or monitors.get(batch.equipment_id)
        timestamps, table = rows_of(batch, machine_signals)
        if not len(timestamps):
            continue
        if current is None or current.signals != machine_signals:
            # First data, or the model's signals changed: learn anew.
            current = MachineMonitor.fresh(
                tenant_id=batch.tenant_id,
                equipment_id=batch.equipment_id,
                signals=machine_signals,
                config=config,
                generation=int(timestamps[0]),
            )
        touched[batch.equipment_id] = current
        result = current.detector.update(timestamps, table)
        normalized = result.score / config.threshold_on
        if not current.detector.warming_up:
            current.latest_score = float(normalized[-1])
        scores.append(score_batch(batch, result, normalized))
        changes.extend((current, event) for event in current.episodes.update(result))
    return _health_changes(list(touched.values()), changes, scores)


def close_quiet(monitors: Sequence[MachineMonitor], now_ms: int) -> HealthChanges:
    """Closes the open episodes that nothing extended for the quiet period, for
    machines that stopped sending while one was open."""
    changes = [
        (monitor, event)
        for monitor in monitors
        for tracker in monitor.trackers
        for event in tracker.close_if_quiet(now_ms)
    ]
    return _health_changes(list(monitors), changes, scores=[])


def _health_changes(
    monitors: list[MachineMonitor],
    changes: list[tuple[MachineMonitor, EpisodeEvent]],
    scores: list[RecordedBatch],
) -> HealthChanges:
    events: list[EpisodeNews] = [
        NEWS[event.type](monitor.episode(event.episode)) for monitor, event in changes
    ]
    # An episode stands as of its last event, unless it is still open and has grown since.
    latest = {event.episode.id: event.episode for event in events}
    latest.update((episode.id, episode) for m in monitors for episode in m.open_episodes())
    return HealthChanges(
        scores=scores, monitors=monitors, episodes=list(latest.values()), events=events
    )


def rows_of(
    batch: RecordedBatch, signals: tuple[str, ...]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The batch as rows (one per timestamp, oldest first) by columns of ``signals``;
    a signal without a value at a row's time is NaN there (missing)."""
    parts = [s for s in batch.series if s.signal in signals]
    if not parts:
        return np.empty(0, np.int64), np.empty((0, len(signals)))
    timestamps = np.unique(np.concatenate([s.timestamps_ms for s in parts]))
    table = np.full((len(timestamps), len(signals)), np.nan)
    for series in parts:
        table[np.searchsorted(timestamps, series.timestamps_ms), signals.index(series.signal)] = (
            series.values
        )
    return timestamps, table


def score_batch(
    batch: RecordedBatch, result: DetectionResult, normalized: npt.NDArray[np.float64]
) -> RecordedBatch:
    flags = np.zeros(len(result), dtype=np.int16)
    flags[result.is_anomaly] |= FLAG_ANOMALY
    flags[result.has_data_quality_issue] |= FLAG_DATA_QUALITY
    return RecordedBatch(
        tenant_id=batch.tenant_id,
        equipment_id=batch.equipment_id,
        sequence_id=batch.sequence_id,
        receive_ms=batch.receive_ms,
        series=(
            RecordedSeries(
                signal=SCORE_SIGNAL,
                timestamps_ms=result.timestamps.astype(np.int64),
                values=normalized.astype(np.float64),
                flags=flags,
            ),
        ),
    )


def health_score(latest_score: float | None) -> float | None:
    """100 in normal running, 50 at the alarm threshold, towards 0 beyond."""
    if latest_score is None:
        return None
    return round(100.0 / (1.0 + max(latest_score, 0.0)), 1)


def quality_issues(episode: Episode) -> tuple[str, ...]:
    return tuple(name for flag, name in QUALITY_ISSUES.items() if episode.quality_flags & flag)
