"""Simulated machines in production: `imcloud simulate --production` sets any
simulated plant up so its stations get states and counts from the machines, and
`imcloud up --demo` shows intelligent production at work within minutes: its
machining line runs a work order and every station's OEE counts. The demo runs in
real time; this test watches its first minutes, and the scripted breakdown later in
the story is checked on the demo's timeline in tests/unit/platform/test_demo.py.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform, embedded, run_imcloud
from tests.support.waiting import wait_for

BANNER = re.compile(
    r"API key:\s+(imk_\S+).*?/v1/oee\?line_id=([0-9a-f-]{36})&start_time=(\S+?)&",
    re.DOTALL,
)


def _rfc3339(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_simulated_machines_set_up_for_production_give_their_stations_states_and_counts(
    embedded_platform: RunningPlatform, tmp_path: Path
) -> None:
    tenant = sign_up(embedded_platform.base_url, "Simulated production")
    summary_path = tmp_path / "summary.json"
    result = run_imcloud(
        "simulate",
        "--api",
        embedded_platform.base_url,
        "--device-link",
        embedded_platform.device_link,
        "--api-key",
        tenant.key,
        "--machines",
        "4",
        "--duration",
        "20",
        "--seed",
        "3",
        "--production",
        "--summary-json",
        str(summary_path),
        env=embedded_platform.env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "onboarding: 3/3 work orders started" in result.stdout
    summary = json.loads(summary_path.read_text())
    plant_id = summary["plant_id"]

    orders = tenant.get("/v1/work-orders", plant_id=plant_id).json()["items"]
    assert sorted(o["part_number"].split("-")[0] for o in orders) == ["BRK", "CLB", "HSG"]
    assert all(o["state"] == "running" for o in orders)
    stations = tenant.get("/v1/stations", plant_id=plant_id).json()["items"]
    assert len(stations) == 4
    assert all(len(s["capabilities"]) == 1 and s["ideal_cycle_time_s"] > 0 for s in stations)

    start = datetime.fromtimestamp(summary["start_ms"] / 1000, UTC)

    def states_of_every_station() -> list[list[dict[str, Any]]] | None:
        timelines = [
            tenant.get(
                f"/v1/stations/{station['id']}/states",
                start_time=_rfc3339(start - timedelta(minutes=1)),
                end_time=_rfc3339(datetime.now(UTC) + timedelta(minutes=1)),
            ).json()["items"]
            for station in stations
        ]
        return timelines if all(timelines) else None

    timelines = wait_for(
        states_of_every_station, timeout_s=60, interval_s=1, what="every station's states"
    )
    states = {interval["state"] for timeline in timelines for interval in timeline}
    assert states <= {"running", "idle", "setup", "down", "planned_stop", "no_data"}
    assert "running" in states


@pytest.mark.timeout(420)
def test_the_demo_line_runs_a_work_order_and_its_stations_show_their_oee(
    tmp_path: Path,
) -> None:
    with embedded(tmp_path, "--demo", timeout_s=60) as platform:
        process = platform.processes["all"]
        banner = wait_for(
            lambda: BANNER.search(process.log()), timeout_s=90, what="the demo banner"
        )
        key, line_id, since = banner.groups()
        tenant = Tenant(platform.base_url, key, "")
        start = datetime.fromisoformat(since.replace("Z", "+00:00"))
        stations = tenant.get("/v1/stations", line_id=line_id).json()["items"]
        assert sorted(s["capabilities"] for s in stations) == [
            ["drilling"],
            ["finishing"],
            ["roughing"],
        ]
        assert all(s["ideal_cycle_time_s"] > 0 for s in stations)

        running = tenant.get("/v1/work-orders", state="running").json()["items"]
        # Every line of the demo plant runs one; the machining line makes housings.
        (order,) = [o for o in running if o["part_number"].startswith("HSG-")]
        assert [(o["sequence"], o["state"]) for o in order["operations"]] == [
            (1, "running"),
            (2, "running"),
            (3, "running"),
        ]
        first_mill = order["operations"][0]["station_id"]

        def producing() -> dict[str, Any] | None:
            end = datetime.now(UTC).replace(second=0, microsecond=0)
            if end <= start:
                return None
            response = tenant.get(
                "/v1/oee",
                line_id=line_id,
                start_time=_rfc3339(start),
                end_time=_rfc3339(end),
                breakdown="station",
            )
            assert response.status_code == 200, response.text
            figures: dict[str, Any] = response.json()
            made = [part["quantities"]["produced"] for part in figures["parts"]]
            return figures if made and all(made) else None

        # Every station counts units within the first minutes; the scripted breakdown
        # later in the story is the timeline's business (tests/unit/platform/test_demo.py).
        figures = wait_for(producing, timeout_s=300, interval_s=5, what="every station producing")
        assert {part["scope_id"] for part in figures["parts"]} == {s["id"] for s in stations}
        assert figures["total"]["availability"] is not None
        assert figures["total"]["oee"] is not None

        states = tenant.get(
            f"/v1/stations/{first_mill}/states",
            start_time=_rfc3339(start),
            end_time=_rfc3339(datetime.now(UTC)),
        ).json()["items"]
        assert "running" in {s["state"] for s in states}

        order = tenant.get(f"/v1/work-orders/{order['id']}").json()
        assert order["operations"][0]["good_quantity"] + order["scrap_quantity"] > 0
    assert "Traceback" not in process.log()
