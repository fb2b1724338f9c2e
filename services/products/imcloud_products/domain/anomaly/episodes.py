"""Episodes: per-row flags folded into one record per continuous problem.

A small state machine per kind of problem. The first flagged row opens an
episode; later flagged rows extend it (end time, peak score, row count, signal
evidence); the episode closes at the first unflagged row that comes at least
`quiet_period_ms` after its last flagged row, so short dips in the flag do not
split one problem in two. An open episode whose severity rises (its peak score
crosses the next level: low -> medium -> high) is "escalated", once per rise.
Events ("opened", "escalated", "closed") come out in row order and do not depend
on how rows were batched; the open episode is always readable as `current`.

MachineEpisodes runs one tracker for process anomalies and one for data-quality
issues over the results of a StreamingAnomalyDetector.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from imcloud_products.domain.anomaly.detector import DetectionResult
from imcloud_products.domain.anomaly.quality import QualityFlag
from imcloud_products.domain.anomaly.serialization import decode_float, encode_float

EpisodeKind = Literal["anomaly", "data_quality"]
EventType = Literal["opened", "escalated", "closed"]

# Severity by the peak score in units of the detector's threshold_on.
DEFAULT_SEVERITY_LEVELS: tuple[tuple[str, float], ...] = (
    ("low", 0.0),
    ("medium", 2.0),
    ("high", 5.0),
)


@dataclass(frozen=True)
class Episode:
    episode_id: int  # sequence number within its tracker
    kind: EpisodeKind
    start_ms: int  # first flagged row
    end_ms: int  # last flagged row so far
    peak_score: float
    peak_ms: int
    rows: int  # flagged rows
    severity: str
    # Per signal: evidence points (anomaly: rank-weighted presence among the rows'
    # top contributing signals; data quality: affected cells).
    signal_evidence: dict[str, int] = field(default_factory=dict)
    quality_flags: int = 0  # OR of QualityFlag bits seen (data-quality episodes)
    closed: bool = False

    def top_signals(self, count: int = 3) -> list[str]:
        ranked = sorted(self.signal_evidence.items(), key=lambda item: (-item[1], item[0]))
        return [name for name, points in ranked[:count] if points > 0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "episode_id": self.episode_id,
            "kind": self.kind,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "peak_score": encode_float(self.peak_score),
            "peak_ms": self.peak_ms,
            "rows": self.rows,
            "severity": self.severity,
            "signal_evidence": dict(self.signal_evidence),
            "quality_flags": self.quality_flags,
            "closed": self.closed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Episode:
        return cls(
            episode_id=int(data["episode_id"]),
            kind=data["kind"],
            start_ms=int(data["start_ms"]),
            end_ms=int(data["end_ms"]),
            peak_score=decode_float(data["peak_score"]),
            peak_ms=int(data["peak_ms"]),
            rows=int(data["rows"]),
            severity=str(data["severity"]),
            signal_evidence={str(k): int(v) for k, v in data["signal_evidence"].items()},
            quality_flags=int(data["quality_flags"]),
            closed=bool(data["closed"]),
        )


@dataclass(frozen=True)
class EpisodeEvent:
    type: EventType
    episode: Episode  # snapshot at the event


class EpisodeTracker:
    """Folds one kind of per-row flag into episodes."""

    def __init__(
        self,
        kind: EpisodeKind,
        quiet_period_ms: int = 60_000,
        severity_reference: float = 1.0,
        severity_levels: tuple[tuple[str, float], ...] = DEFAULT_SEVERITY_LEVELS,
    ) -> None:
        if quiet_period_ms < 0:
            raise ValueError("quiet_period_ms must not be negative")
        self.kind: EpisodeKind = kind
        self.quiet_period_ms = int(quiet_period_ms)
        self.severity_reference = float(severity_reference)
        self.severity_levels = severity_levels
        self.current: Episode | None = None
        self.next_episode_id = 1

    def severity_of(self, peak_score: float) -> str:
        ratio = peak_score / self.severity_reference if self.severity_reference > 0 else 0.0
        chosen = self.severity_levels[0][0]
        for name, minimum in self.severity_levels:
            if ratio >= minimum:
                chosen = name
        return chosen

    def _rank(self, severity: str) -> int:
        return [name for name, _ in self.severity_levels].index(severity)

    def update(
        self,
        timestamps: npt.NDArray[np.int64],
        flagged: npt.NDArray[np.bool_],
        scores: npt.NDArray[np.float64],
        evidence: Mapping[int, dict[str, int]] | None = None,
        quality: npt.NDArray[np.uint16] | None = None,
    ) -> list[EpisodeEvent]:
        """Advance over rows. `evidence[i]` adds points per signal for flagged row i."""
        return [event for _, event in self.advance(timestamps, flagged, scores, evidence, quality)]

    def advance(
        self,
        timestamps: npt.NDArray[np.int64],
        flagged: npt.NDArray[np.bool_],
        scores: npt.NDArray[np.float64],
        evidence: Mapping[int, dict[str, int]] | None = None,
        quality: npt.NDArray[np.uint16] | None = None,
    ) -> list[tuple[int, EpisodeEvent]]:
        """As update(), with the index of the row that produced each event."""
        events: list[tuple[int, EpisodeEvent]] = []
        quality_bits = quality.tolist() if quality is not None else None
        rows = zip(timestamps.tolist(), flagged.tolist(), scores.tolist(), strict=True)
        for row, (stamp, is_flagged, score) in enumerate(rows):
            episode = self.current
            if not is_flagged:
                if episode is not None and stamp - episode.end_ms >= self.quiet_period_ms:
                    events.append((row, self._close()))
                continue
            if episode is None:
                episode = Episode(
                    episode_id=self.next_episode_id,
                    kind=self.kind,
                    start_ms=stamp,
                    end_ms=stamp,
                    peak_score=score,
                    peak_ms=stamp,
                    rows=0,
                    severity=self.severity_of(score),
                )
                self.next_episode_id += 1
                severity_before = None
            else:
                severity_before = episode.severity
            episode = self._extend(
                episode,
                stamp,
                score,
                evidence[row] if evidence is not None else {},
                quality_bits[row] if quality_bits is not None else 0,
            )
            self.current = episode
            if severity_before is None:
                events.append((row, EpisodeEvent("opened", episode)))
            elif self._rank(episode.severity) > self._rank(severity_before):
                events.append((row, EpisodeEvent("escalated", episode)))
        return events

    def close_if_quiet(self, now_ms: int) -> list[EpisodeEvent]:
        """Close the open episode if nothing was flagged for the quiet period.

        For streams that stop (or pause) while an episode is open.
        """
        if self.current is not None and now_ms - self.current.end_ms >= self.quiet_period_ms:
            return [self._close()]
        return []

    def _extend(
        self, episode: Episode, stamp: int, score: float, points: dict[str, int], bits: int
    ) -> Episode:
        evidence = dict(episode.signal_evidence)
        for name, value in points.items():
            evidence[name] = evidence.get(name, 0) + value
        # NaN scores (no usable data) never become the peak.
        higher = score > episode.peak_score or (episode.peak_score != episode.peak_score)
        peak_score, peak_ms = (score, stamp) if higher else (episode.peak_score, episode.peak_ms)
        return replace(
            episode,
            end_ms=max(episode.end_ms, stamp),
            peak_score=peak_score,
            peak_ms=peak_ms,
            rows=episode.rows + 1,
            severity=self.severity_of(peak_score),
            signal_evidence=evidence,
            quality_flags=episode.quality_flags | bits,
        )

    def _close(self) -> EpisodeEvent:
        assert self.current is not None
        closed = replace(self.current, closed=True)
        self.current = None
        return EpisodeEvent("closed", closed)

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "quiet_period_ms": self.quiet_period_ms,
            "severity_reference": encode_float(self.severity_reference),
            "severity_levels": [
                [name, encode_float(level)] for name, level in self.severity_levels
            ],
            "current": None if self.current is None else self.current.to_dict(),
            "next_episode_id": self.next_episode_id,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EpisodeTracker:
        tracker = cls(
            kind=state["kind"],
            quiet_period_ms=int(state["quiet_period_ms"]),
            severity_reference=decode_float(state["severity_reference"]),
            severity_levels=tuple(
                (str(name), decode_float(level)) for name, level in state["severity_levels"]
            ),
        )
        current = state["current"]
        tracker.current = None if current is None else Episode.from_dict(current)
        tracker.next_episode_id = int(state["next_episode_id"])
        return tracker


class MachineEpisodes:
    """Anomaly and data-quality episodes for one machine's detection results."""

    def __init__(self, quiet_period_ms: int = 60_000, threshold_on: float = 1.0) -> None:
        self.anomalies = EpisodeTracker("anomaly", quiet_period_ms, severity_reference=threshold_on)
        # Data-quality severity: the share of signals affected (see update).
        self.data_quality = EpisodeTracker(
            "data_quality",
            quiet_period_ms,
            severity_reference=1.0,
            severity_levels=(("low", 0.0), ("medium", 0.25), ("high", 0.99)),
        )

    def update(self, result: DetectionResult) -> list[EpisodeEvent]:
        """Fold one DetectionResult in; events of both trackers, in row order."""
        names = result.signal_names
        ranks = result.top_signals.shape[1]
        # Evidence only counts for flagged rows, so only those get any.
        anomaly_evidence = {
            row: {names[index]: ranks - rank for rank, index in enumerate(top) if index >= 0}
            for row, top in _flagged_rows(result.is_anomaly, result.top_signals)
        }
        affected = result.missing | result.stuck
        quality_evidence = {
            row: {names[j]: 1 for j, bad in enumerate(signals) if bad}
            for row, signals in _flagged_rows(result.has_data_quality_issue, affected)
        }
        all_missing = (result.quality & np.uint16(QualityFlag.ALL_MISSING)) != 0
        # Data-quality "score": the share of signals affected (1 when nothing usable).
        quality_score = np.where(all_missing, 1.0, affected.mean(axis=1))

        events = self.anomalies.advance(
            result.timestamps, result.is_anomaly, result.score, anomaly_evidence
        )
        events += self.data_quality.advance(
            result.timestamps,
            result.has_data_quality_issue,
            quality_score,
            quality_evidence,
            result.quality,
        )
        # A stable sort on the row keeps anomaly events before data-quality ones
        # within a row, so the order does not depend on batching.
        return [event for _, event in sorted(events, key=lambda item: item[0])]

    def to_state(self) -> dict[str, Any]:
        return {
            "anomalies": self.anomalies.to_state(),
            "data_quality": self.data_quality.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MachineEpisodes:
        episodes = cls()
        episodes.anomalies = EpisodeTracker.from_state(state["anomalies"])
        episodes.data_quality = EpisodeTracker.from_state(state["data_quality"])
        return episodes


def _flagged_rows(
    flagged: npt.NDArray[np.bool_], per_row: npt.NDArray[Any]
) -> Iterator[tuple[int, list[Any]]]:
    """(index, values) of each flagged row of ``per_row``."""
    rows = np.flatnonzero(flagged)
    return zip(rows.tolist(), per_row[rows].tolist(), strict=True)
