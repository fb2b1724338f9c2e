"""Equipment health: each machine's telemetry runs through its own online
anomaly detector, whose flags become episodes, scores and a health figure.

Runs on the batches new to the store, in the transaction that stores them, so
every row is scored exactly once even when Kafka delivers a batch again, and a
restart continues from the saved state as if nothing happened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from imcloud_products.domain.anomaly import (
    DetectionResult,
    DetectorConfig,
    Episode,
    EpisodeEvent,
    MachineEpisodes,
    QualityFlag,
    StreamingAnomalyDetector,
)
from imcloud_products.domain.telemetry import RecordedBatch, RecordedSeries

# The per-row anomaly score of each machine is kept as a series of its own, so
# it can be charted and replayed like any signal. Model signals start with a
# letter, so this name cannot collide with one.
SCORE_SIGNAL = "_anomaly_score"
FLAG_ANOMALY = 2
FLAG_DATA_QUALITY = 4
EPISODE_QUIET_PERIOD_MS = 60_000

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

    def episode_id(self, episode: Episode) -> str:
        return f"{self.equipment_id}/{episode.kind}/{self.generation}-{episode.episode_id}"

    @property
    def signals(self) -> tuple[str, ...]:
        return self.detector.signal_names

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
class EpisodeChange:
    monitor: MachineMonitor
    event: EpisodeEvent


@dataclass
class MonitoringOutcome:
    # Per machine: the score of every row, as a series to store.
    scores: list[RecordedBatch]
    changes: list[EpisodeChange]
    # The monitors that scored rows, as they are now.
    monitors: list[MachineMonitor]


class MonitorRepository(Protocol):
    def load(self, transaction: Any, equipment_ids: list[str]) -> dict[str, MachineMonitor]: ...

    def save(self, transaction: Any, monitors: list[MachineMonitor]) -> None: ...


class HealthReader(Protocol):
    def latest_score(self, *, tenant_id: str, equipment_id: str) -> float | None: ...

    def episodes(
        self,
        *,
        tenant_id: str,
        equipment_ids: list[str] | None,
        station_ids: list[str] | None,
        kind: str,
        open_only: bool,
        page_size: int,
        page_token: str,
    ) -> tuple[list[Any], str]: ...


SignalsOf = Callable[[str, str], tuple[str, ...] | None]
"""(tenant id, equipment id) -> the machine's model signals; None if it is gone."""


def monitor(
    transaction: Any,
    batches: Sequence[RecordedBatch],
    *,
    monitors: MonitorRepository,
    signals_of: SignalsOf,
    config: DetectorConfig,
) -> MonitoringOutcome:
    """Scores the batches' rows, machine by machine, in the order they arrived."""
    outcome = MonitoringOutcome(scores=[], changes=[], monitors=[])
    known = monitors.load(transaction, sorted({b.equipment_id for b in batches}))
    touched: dict[str, MachineMonitor] = {}
    for batch in batches:
        signals = signals_of(batch.tenant_id, batch.equipment_id)
        if not signals:
            continue
        current = touched.get(batch.equipment_id) or known.get(batch.equipment_id)
        timestamps, table = rows_of(batch, signals)
        if not len(timestamps):
            continue
        if current is None or current.signals != signals:
            # First data, or the model's signals changed: learn anew.
            current = MachineMonitor.fresh(
                tenant_id=batch.tenant_id,
                equipment_id=batch.equipment_id,
                signals=signals,
                config=config,
                generation=int(timestamps[0]),
            )
        touched[batch.equipment_id] = current
        result = current.detector.update(timestamps, table)
        normalized = result.score / config.threshold_on
        if not current.detector.warming_up:
            current.latest_score = float(normalized[-1])
        outcome.scores.append(score_batch(batch, result, normalized))
        outcome.changes.extend(
            EpisodeChange(current, event) for event in current.episodes.update(result)
        )
    outcome.monitors = list(touched.values())
    monitors.save(transaction, outcome.monitors)
    return outcome


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


def quality_issues(episode: Episode) -> list[str]:
    return [name for flag, name in QUALITY_ISSUES.items() if episode.quality_flags & flag]
