"""A line of three stations through one shift, told through the public API only:
scripted breakdowns, small stops, slow cycles, setup and scrap go in as telemetry,
and A, P, Q and OEE per station and for the line come out equal to a count done
here, second by second, from the same points. On Kafka and PostgreSQL the
production service is killed mid-shift and again after it, and no figure moves.

Time is compressed the honest way: the shift lies in the past (the last eight
hours but one), and the machines send its points as fast as the API takes them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest

from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for

ZONE = "Europe/Berlin"
STEP_S = 10
SHIFT = timedelta(hours=8)
BREAK_AFTER = timedelta(hours=4)
BREAK = timedelta(minutes=15)
THRESHOLD_S = 120
STARTUP_WINDOW_S = 300
HOLD_S = 60
POINTS_PER_BATCH = 300
CODES = {"idle": 0, "running": 1, "setup": 2, "down": 3}


@dataclass(frozen=True)
class Machine:
    """A station's machine and its script: stops (state, from, until in seconds
    after the shift start), its real cycle and its scrap."""

    name: str
    ideal_cycle_s: float
    cycle_s: float
    stops: tuple[tuple[str, int, int], ...]
    scrap_every: int

    def points(self, shift_start_ms: int) -> dict[str, np.ndarray]:
        # Ten minutes before the shift, so its start finds the machine reporting.
        seconds = np.arange(-600, int(SHIFT.total_seconds()) + 600, STEP_S)
        states = np.full(len(seconds), CODES["running"], dtype=np.float64)
        for state, start, end in self.stops:
            states[(seconds >= start) & (seconds < end)] = CODES[state]
        running = states == CODES["running"]
        # Units completed while running, at the machine's real cycle.
        made = np.floor(np.cumsum(running * STEP_S) / self.cycle_s)
        scrap = np.floor(made / self.scrap_every)
        after_setup = np.zeros(len(seconds), dtype=bool)
        for state, _, end in self.stops:
            if state in ("setup", "down") and end - _ >= THRESHOLD_S:
                after_setup |= (seconds >= end) & (seconds < end + STARTUP_WINDOW_S)
        # Every unit right after a restart is scrap: start-up rejects.
        extra = np.cumsum(np.diff(made, prepend=made[0]) * after_setup)
        scrap = scrap + extra
        return {
            "stamps": shift_start_ms + seconds * 1000,
            "run_state": states,
            "good_count": made - scrap,
            "scrap_count": scrap,
        }


LINE = (
    # A breakdown of 40 min, three small stops of 50-90 s.
    Machine(
        "Press",
        ideal_cycle_s=20,
        cycle_s=20,
        stops=(
            ("down", 3600, 6000),
            ("down", 9000, 9050),
            ("down", 12000, 12090),
            ("idle", 20000, 20070),
        ),
        scrap_every=80,
    ),
    # Slow cycles: 25 s where 20 s is ideal; production rejects.
    Machine("Mill", ideal_cycle_s=20, cycle_s=25, stops=(("idle", 15000, 15600),), scrap_every=25),
    # A changeover of 20 min, start-up rejects after it and after a breakdown.
    Machine(
        "Lathe",
        ideal_cycle_s=30,
        cycle_s=31,
        stops=(("setup", 7200, 8400), ("down", 21000, 21600), ("down", 26000, 26030)),
        scrap_every=200,
    ),
)


def expected(
    machine: Machine, points: dict[str, np.ndarray], planned: list[tuple[int, int]]
) -> dict[str, float]:
    """A, P, Q and the time elements counted second by second from the points,
    with the definitions the API documents (imcloud_production.domain.oee)."""
    stamps = points["stamps"]
    states = points["run_state"]

    def is_planned(ms: int) -> bool:
        return any(start <= ms < end for start, end in planned)

    # Stops as runs of equal non-running codes; each is small if shorter than the threshold.
    seconds = {"running": 0.0, "small": 0.0, "down": 0.0, "idle": 0.0, "setup": 0.0}
    names = {code: name for name, code in CODES.items()}
    run_start = 0
    for index in range(1, len(stamps) + 1):
        if index < len(stamps) and states[index] == states[run_start]:
            continue
        state = names[int(states[run_start])]
        start_ms = int(stamps[run_start])
        end_ms = int(stamps[index]) if index < len(stamps) else int(stamps[-1])
        lasted_s = (end_ms - start_ms) / 1000
        bucket = state if state == "running" or lasted_s >= THRESHOLD_S else "small"
        seconds[bucket] += sum(1 for ms in range(start_ms, end_ms, 1000) if is_planned(ms))
        run_start = index
    pbt = sum(end - start for start, end in planned) / 1000
    apt = seconds["running"] + seconds["small"]
    inside = np.array([is_planned(int(ms)) for ms in stamps])
    good = float(np.diff(points["good_count"], prepend=points["good_count"][0])[inside].sum())
    scrap = float(np.diff(points["scrap_count"], prepend=points["scrap_count"][0])[inside].sum())
    produced = good + scrap
    return {
        "pbt": pbt,
        "apt": apt,
        "ideal": produced * machine.ideal_cycle_s,
        "good": good,
        "produced": produced,
        "availability": apt / pbt,
        "performance": produced * machine.ideal_cycle_s / apt,
        "quality": good / produced,
    }


@dataclass
class Shift:
    start: datetime
    end: datetime
    planned_ms: list[tuple[int, int]]


def last_shift(now: datetime) -> Shift:
    """The eight hours ending an hour ago, on whole minutes, with a break in the middle."""
    end = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    start = end - SHIFT
    pause = start + BREAK_AFTER

    def ms(moment: datetime) -> int:
        return int(moment.timestamp() * 1000)

    return Shift(start, end, [(ms(start), ms(pause)), (ms(pause + BREAK), ms(end))])


def local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(ZONE)).strftime("%H:%M")


@dataclass
class Plant:
    tenant: Tenant
    line_id: str
    stations: dict[str, str]
    secrets: dict[str, str]
    shift: Shift


def put(tenant: Tenant, path: str, body: dict[str, object]) -> httpx.Response:
    return tenant.http.put(path, json=body)


def created(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def onboard_line(base_url: str) -> Plant:
    tenant = sign_up(base_url, f"Line Works {uuid.uuid4().hex[:6]}")
    shift = last_shift(datetime.now(UTC))
    plant_id = created(tenant.post("/v1/plants", {"name": "Works", "time_zone": ZONE}))
    line_id = created(tenant.post("/v1/lines", {"plant_id": plant_id, "name": "Line A"}))
    calendar = put(
        tenant,
        f"/v1/plants/{plant_id}/calendar",
        {
            "shifts": [
                {
                    "name": "test shift",
                    "days_of_week": [1, 2, 3, 4, 5, 6, 7],
                    "start_time": local(shift.start),
                    "end_time": local(shift.end),
                    "breaks": [
                        {
                            "start_time": local(shift.start + BREAK_AFTER),
                            "end_time": local(shift.start + BREAK_AFTER + BREAK),
                        }
                    ],
                }
            ],
            "holidays": [],
            "small_stop_threshold_s": THRESHOLD_S,
            "startup_window_s": STARTUP_WINDOW_S,
            # The shift lies in the past: the calendar applies from before it.
            "effective_time": (shift.start - timedelta(days=1)).isoformat(),
        },
    )
    assert calendar.status_code == 200, calendar.text
    model_id = created(
        tenant.post(
            "/v1/equipment-models",
            {
                "name": "Line machine",
                "signals": [{"name": s} for s in ("run_state", "good_count", "scrap_count")],
            },
        )
    )
    mapping = put(
        tenant,
        f"/v1/equipment-models/{model_id}/state-mapping",
        {
            "state_signal": "run_state",
            "rules": [
                {"comparison": "equal", "value": code, "state": state}
                for state, code in CODES.items()
            ],
            "default_state": "down",
            "good": {"signal": "good_count", "kind": "total"},
            "scrap": {"signal": "scrap_count", "kind": "total"},
            "hold_s": HOLD_S,
        },
    )
    assert mapping.status_code == 200, mapping.text
    stations, secrets = {}, {}
    for machine in LINE:
        station_id = created(
            tenant.post(
                "/v1/stations",
                {
                    "line_id": line_id,
                    "name": machine.name,
                    "capabilities": [machine.name.lower()],
                    "ideal_cycle_time_s": machine.ideal_cycle_s,
                },
            )
        )
        equipment_id = created(
            tenant.post(
                "/v1/equipment",
                {
                    "equipment_model_id": model_id,
                    "serial_number": machine.name,
                    "station_id": station_id,
                },
            )
        )
        credential = tenant.post(f"/v1/equipment/{equipment_id}/credentials", {})
        assert credential.status_code == 201, credential.text
        stations[machine.name] = station_id
        secrets[machine.name] = credential.json()["secret"]
    return Plant(tenant, line_id, stations, secrets, shift)


class Sender:
    """One machine's points, sent in order as the device link's HTTP batches."""

    def __init__(self, base_url: str, secret: str, points: dict[str, np.ndarray]) -> None:
        self.base_url = base_url
        self.secret = secret
        self.points = points
        self.sent = 0
        self.sequence = 0

    def send(self, upto: int) -> None:
        while self.sent < min(upto, len(self.points["stamps"])):
            part = slice(self.sent, min(self.sent + POINTS_PER_BATCH, upto))
            self.sequence += 1
            response = httpx.post(
                f"{self.base_url}/v1/device/telemetry",
                headers={"Authorization": f"Bearer {self.secret}"},
                json={
                    "sequence_id": self.sequence,
                    "series": [
                        {
                            "signal": name,
                            "timestamps_ms": self.points["stamps"][part].tolist(),
                            "values": self.points[name][part].tolist(),
                        }
                        for name in ("run_state", "good_count", "scrap_count")
                    ],
                },
                timeout=30,
            )
            assert response.status_code == 200, response.text
            assert response.json()["refusals"] == [], response.text
            self.sent = part.stop


def oee(plant: Plant, **scope: str) -> dict[str, Any]:
    response = plant.tenant.get(
        "/v1/oee",
        start_time=plant.shift.start.isoformat(),
        end_time=plant.shift.end.isoformat(),
        breakdown="station",
        **scope,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(params=["embedded", "distributed"])
def platform(request: pytest.FixtureRequest) -> RunningPlatform:
    platform: RunningPlatform = request.getfixturevalue(f"{request.param}_platform")
    return platform


def test_a_shift_of_a_line_gives_the_oee_counted_from_its_raw_telemetry(
    platform: RunningPlatform,
) -> None:
    plant = onboard_line(platform.base_url)
    start_ms = plant.shift.planned_ms[0][0]
    points = {m.name: m.points(start_ms) for m in LINE}
    senders = {
        m.name: Sender(platform.base_url, plant.secrets[m.name], points[m.name]) for m in LINE
    }
    # Production learns where the machines stand from the products service's events;
    # the first batch (before the shift) is sent until each station shows a state.
    for machine in LINE:
        senders[machine.name].send(1)

    def tracked() -> bool:
        for machine in LINE:
            states = plant.tenant.get(
                f"/v1/stations/{plant.stations[machine.name]}/states",
                start_time=(plant.shift.start - timedelta(hours=1)).isoformat(),
                end_time=plant.shift.end.isoformat(),
            )
            assert states.status_code == 200, states.text
            if not states.json()["items"]:
                senders[machine.name].sent = 0  # not tracked yet: send it again
                senders[machine.name].send(1)
                return False
        return True

    wait_for(tracked, timeout_s=60, interval_s=1, what="production tracking the machines")
    halfway = len(points["Press"]["stamps"]) // 2
    for sender in senders.values():
        sender.send(halfway)
    if "production" in platform.processes:
        platform.kill_and_restart("production")
    for sender in senders.values():
        sender.send(len(sender.points["stamps"]))

    want = {m.name: expected(m, points[m.name], plant.shift.planned_ms) for m in LINE}

    def caught_up() -> dict[str, Any] | None:
        figures = oee(plant, line_id=plant.line_id)
        total = figures["total"]
        wanted = sum(w["produced"] for w in want.values())
        return figures if total["quantities"]["produced"] >= wanted else None

    figures = wait_for(caught_up, timeout_s=120, interval_s=1, what="every unit counted")
    parts = {p["scope_id"]: p for p in figures["parts"]}
    for machine in LINE:
        got = parts[plant.stations[machine.name]]
        for ratio in ("availability", "performance", "quality"):
            assert got[ratio] == pytest.approx(want[machine.name][ratio], abs=0.005), (
                machine.name,
                ratio,
            )
        assert got["time"]["planned_busy_time_s"] == want[machine.name]["pbt"]
        assert got["quantities"]["good"] == want[machine.name]["good"]
    # The line sums its stations' time and quantities.
    line = figures["total"]
    pbt = sum(w["pbt"] for w in want.values())
    apt = sum(w["apt"] for w in want.values())
    ideal = sum(w["ideal"] for w in want.values())
    good = sum(w["good"] for w in want.values())
    produced = sum(w["produced"] for w in want.values())
    assert line["availability"] == pytest.approx(apt / pbt, abs=0.005)
    assert line["performance"] == pytest.approx(ideal / apt, abs=0.005)
    assert line["quality"] == pytest.approx(good / produced, abs=0.005)
    assert line["oee"] == pytest.approx(apt / pbt * ideal / apt * good / produced, abs=0.005)
    # The six big losses are all there: the breakdown, the changeover, the small
    # stops, the slow mill, the start-up rejects and the production rejects.
    losses = line["losses"]
    assert all(value > 0 for value in losses.values()), losses

    if "production" in platform.processes:
        platform.kill_and_restart("production")
        assert oee(plant, line_id=plant.line_id) == figures

    downtimes = plant.tenant.get(
        "/v1/downtimes",
        station_id=plant.stations["Press"],
        start_time=plant.shift.start.isoformat(),
        end_time=plant.shift.end.isoformat(),
    )
    assert downtimes.status_code == 200, downtimes.text
    stops = downtimes.json()["items"]
    assert [(s["state"], s["reason_code"]) for s in stops] == [("down", "")]
