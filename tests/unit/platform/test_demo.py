"""`imcloud up --demo`: the scripted shift of its machining line, and what the
console shows about it every minute."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
from rich.console import Console

from imcloud_platform.demo import MACHINES, SCRIPT_REPEAT_S, SEED, LineFollower, demo_script
from imcloud_simulator.faults import Fault
from imcloud_simulator.fleet import Fleet
from imcloud_simulator.machines import DOWN, PLANNED_STOP, RUNNING, SETUP, CncMill
from imcloud_simulator.onboarding import OnboardedMachine, OnboardedPlant, PlatformApi
from imcloud_simulator.production import ProductionLine

STARTED = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC)
LINE = [0, 1, 2]  # Fleet(5): the three mills come first


def mill_readings(seconds: int) -> tuple[Fleet, dict[str, npt.NDArray[np.float64]]]:
    """The demo's fleet playing its script, and its mills' readings (ticks x mills)."""
    fleet = Fleet(MACHINES, seed=SEED)
    fleet.play(demo_script(LINE))
    rows = []
    for _ in range(seconds):
        tick = fleet.step()
        rows.append(next(r.values for r in tick.readings if r.kind == CncMill.KIND).copy())
    values = np.stack(rows)
    names = CncMill.KIND.signal_names
    return fleet, {name: values[:, :, CncMill.KIND.index(name)] for name in names}


def stretches(states: npt.NDArray[np.float64], state: int) -> list[tuple[int, int]]:
    """(start, length) of each run of ``state``."""
    inside = np.concatenate([[False], states == state, [False]])
    edges = np.flatnonzero(np.diff(inside.astype(int)))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def test_the_script_breaks_a_mill_down_for_three_minutes_and_stops_the_others_briefly() -> None:
    fleet, readings = mill_readings(1200)
    states = readings["run_state"]
    assert stretches(states[:, 0], DOWN) == [(150, 180), (540, 45)]
    assert stretches(states[:, 1], DOWN) == [(90, 75)]
    assert stretches(states[:, 2], PLANNED_STOP) == [(900, 300)]
    # Nothing else happens to the line: no setup the duty cycle draws, no fault
    # but the script's (else pick another seed).
    assert stretches(states[:, 0], SETUP) == stretches(states[:, 2], SETUP) == []
    assert stretches(states[:, 1], SETUP) == [(600, 240)]
    assert [(e.machine, e.fault) for e in fleet.events if e.machine in LINE] == [
        (2, Fault.COOLANT_LOSS)
    ]
    # After a stop the mill runs again, and only running makes parts.
    assert states[330, 0] == RUNNING
    assert states[840, 1] == RUNNING
    good = readings["good_count"][:, 0]
    assert good[329] == good[150]
    assert good[-1] > good[330]


def test_the_coolant_loss_makes_the_third_mill_slow_and_scrap_more() -> None:
    _, readings = mill_readings(1800)
    running = readings["run_state"][:, 2] == RUNNING
    made = np.diff(readings["good_count"][:, 2] + readings["scrap_count"][:, 2], prepend=0)
    scrapped = np.diff(readings["scrap_count"][:, 2], prepend=0)
    dry = np.zeros(1800, dtype=bool)
    dry[240:660] = True
    # Before and after it, up to the planned stop.
    healthy = ~dry & (np.arange(1800) < 900)

    def seconds_per_unit(when: npt.NDArray[np.bool_]) -> float:
        return float((running & when).sum() / made[when].sum())

    assert seconds_per_unit(dry) > 1.3 * seconds_per_unit(healthy)
    assert scrapped[dry].sum() / made[dry].sum() > scrapped[healthy].sum() / made[healthy].sum()


def test_the_story_repeats_every_half_hour_until_the_shift_ends() -> None:
    script = demo_script(LINE)
    story = [e for e in script if e.at_s < SCRIPT_REPEAT_S]
    assert len(story) == 7
    assert len(script) == 16 * len(story)
    assert max(e.at_s for e in script) < 8 * 3600
    later = [e for e in script if SCRIPT_REPEAT_S <= e.at_s < 2 * SCRIPT_REPEAT_S]
    assert [e.at_s - SCRIPT_REPEAT_S for e in later] == [e.at_s for e in story]


# -- the console ------------------------------------------------------------------


def line_of(fleet: Fleet) -> tuple[OnboardedPlant, ProductionLine]:
    machines = [
        OnboardedMachine(m, f"e{m.index}", f"SN-{m.index}", "imd_x", f"s{m.index}")
        for m in fleet.machines
    ]
    plant = OnboardedPlant(
        api_key="imk_test",
        tenant_id="t",
        plant_id="p1",
        equipment_model_ids={},
        machines=machines,
        line_ids={"cnc_mill": "l1"},
        time_zone="Europe/Berlin",
    )
    return plant, ProductionLine("cnc_mill", "l1", "prod1", "HSG-abc123", tuple(machines[:3]))


def figures(scope: str, scope_id: str, a: float | None, good: float) -> dict[str, Any]:
    return {
        "scope": scope,
        "scope_id": scope_id,
        "availability": a,
        "performance": 0.9 if a is not None else None,
        "quality": 0.95 if a is not None else None,
        "oee": a * 0.9 * 0.95 if a is not None else None,
        "quantities": {"good": good, "scrap": 2.0},
    }


class FakeApi:
    """The work order and OEE routes, or ``status`` for all of them."""

    def __init__(self, *, status: int = 200, good: float = 12.0) -> None:
        self.status = status
        self.good = good
        self.requests: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else dict(request.url.params)
        self.requests.append((request.method, request.url.path, body))
        path = request.url.path
        if self.status != 200:
            error = {"code": "x", "message": f"answered {self.status}", "request_id": "r"}
            return httpx.Response(self.status, json={"error": error})
        if path == "/v1/oee":
            return httpx.Response(
                200,
                json={
                    "total": figures("line", "l1", 0.625, 40),
                    "parts": [
                        figures("station", "s0", 0.4, 10),
                        figures("station", "s1", 0.75, 15),
                        figures("station", "s2", None, 0),
                    ],
                },
            )
        if request.method == "GET":
            operations = [{"sequence": n, "state": "running"} for n in (1, 2, 3)]
            order = {"id": "wo1", "quantity": 30.0, "good_quantity": self.good}
            return httpx.Response(
                200, json={**order, "scrap_quantity": 2.0, "operations": operations}
            )
        if path == "/v1/work-orders":
            return httpx.Response(201, json={"id": "wo2"})
        return httpx.Response(200, json={"id": "wo1", "operations": []})


def follower(fake: FakeApi) -> tuple[LineFollower, io.StringIO]:
    api = PlatformApi("http://gateway", "imk_test", transport=httpx.MockTransport(fake))
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    plant, line = line_of(Fleet(5, seed=1))
    return LineFollower(api, console, plant, line, "wo1", started=STARTED), out


def test_every_minute_the_console_shows_the_work_order_and_the_oee_per_station() -> None:
    fake = FakeApi()
    follow, out = follower(fake)

    follow.report(datetime(2026, 12, 1, 12, 5, 10, tzinfo=UTC))

    assert out.getvalue().splitlines() == [
        "work order HSG-abc123 wo1: 12/30 good, 2 scrap",
        "OEE of the Machining line 13:01-13:05: A  62.5%  P  90.0%  Q  95.0%  OEE  53.4%  "
        "(40 good, 2 scrap)",
        "  CNC mill 1 (roughing): A  40.0%  P  90.0%  Q  95.0%  OEE  34.2%  (10 good, 2 scrap)",
        "  CNC mill 2 (finishing): A  75.0%  P  90.0%  Q  95.0%  OEE  64.1%  (15 good, 2 scrap)",
        "  CNC mill 3 (drilling): A     -  P     -  Q     -  OEE     -  (0 good, 2 scrap)",
    ]
    oee = next(params for _, path, params in fake.requests if path == "/v1/oee")
    assert oee == {
        "line_id": "l1",
        "start_time": "2026-12-01T12:01:00Z",
        "end_time": "2026-12-01T12:05:00Z",
        "breakdown": "station",
    }


def test_a_made_work_order_is_completed_and_the_next_one_started_along_the_line() -> None:
    fake = FakeApi(good=30.0)
    follow, out = follower(fake)

    follow.report(datetime(2026, 12, 1, 12, 30, tzinfo=UTC))

    calls = [(method, path) for method, path, _ in fake.requests if path != "/v1/oee"]
    assert calls == [
        ("GET", "/v1/work-orders/wo1"),
        *(("POST", f"/v1/work-orders/wo1/operations/{n}:complete") for n in (1, 2, 3)),
        ("POST", "/v1/work-orders"),
        ("POST", "/v1/work-orders/wo2:release"),
        *(("POST", f"/v1/work-orders/wo2/operations/{n}:start") for n in (1, 2, 3)),
    ]
    assert follow.work_order_id == "wo2"
    assert "work order HSG-abc123 wo1 completed: 30/30 good, 2 scrap" in out.getvalue()
    assert "work order HSG-abc123 wo2 released and started" in out.getvalue()


def test_production_not_served_yet_is_said_once_and_asked_again_every_minute() -> None:
    fake = FakeApi(status=404)
    follow, out = follower(fake)

    for minute in (2, 3, 4):
        follow.report(datetime(2026, 12, 1, 12, minute, tzinfo=UTC))

    said = out.getvalue().replace("\n", " ")
    assert said.count("work orders not served yet") == 1
    assert said.count("OEE not served yet") == 1
    assert len(fake.requests) == 6


def test_any_other_refusal_is_shown_each_time() -> None:
    fake = FakeApi(status=409)
    follow, out = follower(fake)

    for minute in (2, 3):
        follow.report(datetime(2026, 12, 1, 12, minute, tzinfo=UTC))

    said = out.getvalue().replace("\n", " ")
    assert said.count("imcloud demo: OEE: GET /v1/oee: 409 x: answered 409") == 2
