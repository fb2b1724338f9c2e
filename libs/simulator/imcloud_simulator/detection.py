"""What the platform made of a run, asked through the REST API like a customer
would: the anomaly and data-quality episodes it detected and the maintenance
tickets it opened, per machine.

The gateway acknowledges a batch once it is durable, before the platform has
scored it; a machine's twin shows its newest stored reading, which is scored in
the same transaction. So the question waits (bounded) until every machine's
twin shows the last reading the machine delivered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from imcloud_simulator.onboarding import OnboardedPlant, PlatformApi

# How often the twins of machines not yet scored are asked again.
POLL_INTERVAL_S = 0.5
PAGE_SIZE = 500


@dataclass(frozen=True)
class Episode:
    kind: str  # anomaly or data_quality
    severity: str
    start_ms: int
    end_ms: int
    top_signals: tuple[str, ...]
    quality_issues: tuple[str, ...]
    closed: bool

    @classmethod
    def of(cls, body: dict[str, Any]) -> Episode:
        return cls(
            kind=str(body["kind"]),
            severity=str(body["severity"]),
            start_ms=_ms(body["start_time"]),
            end_ms=_ms(body["end_time"]),
            top_signals=tuple(body["top_signals"]),
            quality_issues=tuple(body["quality_issues"]),
            closed=bool(body["closed"]),
        )


@dataclass(frozen=True)
class Ticket:
    title: str
    priority: str
    state: str


@dataclass(frozen=True)
class Findings:
    """What the platform says about one machine."""

    # None while the platform still learns the machine's normal running.
    health_score: float | None
    episodes: tuple[Episode, ...] = ()
    tickets: tuple[Ticket, ...] = ()


@dataclass(frozen=True)
class Scoring:
    """How far the platform got with scoring the machines' last batches."""

    scored: int
    expected: int
    elapsed_s: float


@dataclass(frozen=True)
class Detection:
    scoring: Scoring
    by_equipment: dict[str, Findings] = field(default_factory=dict)


def ask_platform(
    api: PlatformApi,
    plant: OnboardedPlant,
    last_delivered_ms: dict[str, int],
    *,
    wait_s: float,
    skip: threading.Event,
    report: Callable[[Scoring], None] = lambda scoring: None,
) -> Detection:
    """Waits up to ``wait_s`` (or until ``skip`` is set) for the platform to
    score every machine's reading at ``last_delivered_ms`` (by equipment id),
    then collects what it detected."""
    started = time.monotonic()
    pending = dict(last_delivered_ms)
    twins: dict[str, dict[str, Any]] = {}
    asking = [m.equipment_id for m in plant.machines]
    while True:
        for equipment_id in asking:
            twins[equipment_id] = twin = api.get(f"/v1/equipment/{equipment_id}/twin")
            newest = max((_ms(r["time"]) for r in twin["reported"]), default=None)
            if equipment_id in pending and newest is not None and newest >= pending[equipment_id]:
                del pending[equipment_id]
        scoring = Scoring(
            scored=len(last_delivered_ms) - len(pending),
            expected=len(last_delivered_ms),
            elapsed_s=time.monotonic() - started,
        )
        report(scoring)
        left_s = wait_s - scoring.elapsed_s
        if not pending or left_s <= 0 or skip.wait(min(POLL_INTERVAL_S, left_s)):
            break
        asking = list(pending)

    episodes: dict[str, list[Episode]] = {}
    for page in api.pages(f"/v1/plants/{plant.plant_id}/anomaly-episodes", page_size=PAGE_SIZE):
        for body in page["items"]:
            episodes.setdefault(str(body["equipment_id"]), []).append(Episode.of(body))
    # Tickets are opened from episodes, and a machine onboarded minutes ago has
    # no other; so only machines with an episode are asked about.
    tickets = {
        equipment_id: [
            Ticket(title=str(t["title"]), priority=str(t["priority"]), state=str(t["state"]))
            for page in api.pages(
                "/v1/maintenance-tickets", equipment_id=equipment_id, page_size=PAGE_SIZE
            )
            for t in page["items"]
        ]
        for equipment_id in episodes
    }
    return Detection(
        scoring=scoring,
        by_equipment={
            equipment_id: Findings(
                health_score=twin["health_score"],
                # Oldest first, as they happened (the API lists newest first).
                episodes=tuple(sorted(episodes.get(equipment_id, []), key=lambda e: e.start_ms)),
                tickets=tuple(tickets.get(equipment_id, [])),
            )
            for equipment_id, twin in twins.items()
        },
    )


def _ms(timestamp: str) -> int:
    return round(datetime.fromisoformat(timestamp).timestamp() * 1000)
