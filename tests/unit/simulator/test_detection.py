"""What the platform detected, asked through the REST API once it scored the
machines' last readings (here against a fake gateway)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx

from imcloud_simulator.detection import Episode, Findings, Scoring, Ticket, ask_platform
from imcloud_simulator.fleet import Fleet
from imcloud_simulator.onboarding import OnboardedMachine, OnboardedPlant, PlatformApi

START_MS = 1_800_000_000_000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def episode(equipment_id: str, start_s: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"{equipment_id}/{start_s}",
        "equipment_id": equipment_id,
        "kind": "data_quality",
        "start_time": iso(START_MS + start_s * 1000),
        "end_time": iso(START_MS + start_s * 1000 + 4000),
        "severity": "low",
        "top_signals": ["spindle_load"],
        "quality_issues": ["missing"],
        "closed": True,
        **fields,
    }


class FakeGateway:
    """Twins whose newest reading moves on by a second at each request (from
    ``newest_s``), episodes of the plant and tickets by machine."""

    def __init__(self, newest_s: dict[str, int], health: dict[str, float | None]) -> None:
        self.newest_s = newest_s
        self.health = health
        self.episodes: list[dict[str, Any]] = []
        self.tickets: dict[str, list[dict[str, Any]]] = {}
        self.asked: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.asked[path] += 1
        if path.endswith("/twin"):
            equipment_id = path.split("/")[3]
            newest_ms = START_MS + 1000 * (self.newest_s[equipment_id] + self.asked[path])
            return httpx.Response(
                200,
                json={
                    "equipment_id": equipment_id,
                    "reported": [{"signal": "spindle_load", "value": 1.0, "time": iso(newest_ms)}],
                    "health_score": self.health[equipment_id],
                    "open_episodes": [],
                },
            )
        if path.endswith("/anomaly-episodes"):
            return httpx.Response(200, json={"items": self.episodes, "next_page_token": ""})
        if path == "/v1/maintenance-tickets":
            items = self.tickets.get(request.url.params["equipment_id"], [])
            return httpx.Response(200, json={"items": items, "next_page_token": ""})
        return httpx.Response(404, json={"error": {"code": "not_found", "message": path}})


def plant_of(fleet: Fleet) -> OnboardedPlant:
    return OnboardedPlant(
        api_key="imk_test",
        tenant_id="t",
        plant_id="p1",
        equipment_model_ids={},
        machines=[
            OnboardedMachine(m, f"e{m.index}", f"SN-{m.index}", "imd_x", f"s{m.index}")
            for m in fleet.machines
        ],
        line_ids={},
        time_zone="UTC",
    )


def api_for(gateway: FakeGateway) -> PlatformApi:
    return PlatformApi(
        "http://gateway", "imk_test", requests_per_s=1e6, transport=httpx.MockTransport(gateway)
    )


def test_the_platform_is_asked_once_it_scored_every_last_reading() -> None:
    plant = plant_of(Fleet(3, seed=1))
    gateway = FakeGateway({"e0": 30, "e1": 27, "e2": 0}, {"e0": 87.4, "e1": None, "e2": None})
    gateway.episodes = [
        episode("e1", 20, kind="anomaly", severity="high", quality_issues=[], closed=False),
        episode("e1", 5),
    ]
    gateway.tickets["e1"] = [{"title": "Anomaly (high)", "priority": "high", "state": "open"}]
    reports: list[Scoring] = []

    detection = ask_platform(
        api_for(gateway),
        plant,
        # e1 gets there at its third request; e2 reported nothing, so nothing is awaited
        {"e0": START_MS + 31_000, "e1": START_MS + 30_000},
        wait_s=10,
        skip=threading.Event(),
        report=reports.append,
    )

    assert [(r.scored, r.expected) for r in reports] == [(1, 2), (1, 2), (2, 2)]
    assert detection.scoring.scored == detection.scoring.expected == 2
    assert gateway.asked["/v1/equipment/e0/twin"] == gateway.asked["/v1/equipment/e2/twin"] == 1
    assert gateway.asked["/v1/equipment/e1/twin"] == 3
    assert detection.by_equipment["e0"] == Findings(health_score=87.4)
    assert detection.by_equipment["e2"] == Findings(health_score=None)
    found = detection.by_equipment["e1"]
    assert found.episodes == (
        Episode(
            kind="data_quality",
            severity="low",
            start_ms=START_MS + 5000,
            end_ms=START_MS + 9000,
            top_signals=("spindle_load",),
            quality_issues=("missing",),
            closed=True,
        ),
        Episode(
            kind="anomaly",
            severity="high",
            start_ms=START_MS + 20_000,
            end_ms=START_MS + 24_000,
            top_signals=("spindle_load",),
            quality_issues=(),
            closed=False,
        ),
    )
    assert found.tickets == (Ticket(title="Anomaly (high)", priority="high", state="open"),)
    # Only machines with an episode can have a ticket from one.
    assert gateway.asked["/v1/maintenance-tickets"] == 1


def test_the_wait_for_scoring_is_bounded() -> None:
    plant = plant_of(Fleet(2, seed=1))
    gateway = FakeGateway({"e0": 0, "e1": 0}, {"e0": None, "e1": None})
    gateway.episodes = [episode("e0", 1)]
    started = time.monotonic()

    detection = ask_platform(
        api_for(gateway),
        plant,
        {"e0": START_MS, "e1": START_MS + 3_600_000},  # e1's reading never shows up
        wait_s=0.3,
        skip=threading.Event(),
    )

    assert time.monotonic() - started < 2
    assert (detection.scoring.scored, detection.scoring.expected) == (1, 2)
    assert detection.scoring.elapsed_s >= 0.3
    assert len(detection.by_equipment["e0"].episodes) == 1


def test_a_skip_ends_the_wait_at_once() -> None:
    plant = plant_of(Fleet(1, seed=1))
    gateway = FakeGateway({"e0": 0}, {"e0": None})
    skip = threading.Event()
    skip.set()

    detection = ask_platform(
        api_for(gateway), plant, {"e0": START_MS + 3_600_000}, wait_s=60, skip=skip
    )

    assert gateway.asked["/v1/equipment/e0/twin"] == 1
    assert detection.scoring.scored == 0
    assert detection.by_equipment == {"e0": Findings(health_score=None)}
