"""`imcloud simulate` against the real platform: what it reports as accepted is
what the platform stored, its output makes sense in a pipe, and it reports what
the platform detected."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from imcloud_simulator.machines import KINDS
from tests.integration.sdk.telemetry import count, stored_points
from tests.support.api import sign_up
from tests.support.platform import RunningPlatform, run_imcloud
from tests.support.waiting import wait_for

SIGNALS = {group.KIND.key: group.KIND.signal_names for group in KINDS}


def test_simulate_stores_what_it_reports_as_accepted(
    embedded_platform: RunningPlatform, tmp_path: Path
) -> None:
    tenant = sign_up(embedded_platform.base_url, "Simulated plant")
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
        "3",
        "--duration",
        "5",
        "--rate-hz",
        "5",
        "--seed",
        "7",
        "--summary-json",
        str(summary_path),
        env=embedded_platform.env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout  # a pipe: no spinner, no live panel, but lines
    assert "Simulation summary" in output
    assert "onboarding: 3/3 machines" in output
    summary: dict[str, Any] = json.loads(summary_path.read_text())

    assert summary["ticks"] == 25
    machines = summary["machines"]
    assert sorted(m["kind"] for m in machines) == [
        "centrifugal_pump",
        "cnc_mill",
        "hydraulic_press",
    ]
    for machine in machines:
        assert machine["points_accepted"] > 0
        assert machine["points_unsent"] == machine["points_dropped"] == 0
        assert machine["points_accepted"] + machine["points_refused"] == machine["points_recorded"]
        wait_for(
            lambda machine=machine: (
                count(stored_points(tenant, machine["equipment_id"], SIGNALS[machine["kind"]]))
                == machine["points_accepted"]
            ),
            timeout_s=60,
            interval_s=0.5,
            what=f"{machine['name']}: {machine['points_accepted']} stored points",
        )

    # The last progress line is the summary, to the point.
    done = re.search(
        r"^\d+ s / 5 s, done: recorded ([\d,]+), sent [\d,]+, accepted ([\d,]+) "
        r"\(out of range ([\d,]+)\), refused ([\d,]+)",
        output,
        re.MULTILINE,
    )
    assert done, output
    last_shown = [int(n.replace(",", "")) for n in done.groups()]
    assert last_shown == [
        sum(m[field] for m in machines)
        for field in ("points_recorded", "points_accepted", "points_flagged", "points_refused")
    ]

    # The platform was asked what it detected once it had scored every last batch.
    assert summary["scoring"]["scored"] == summary["scoring"]["expected"] == 3, output
    for machine in machines:
        assert set(machine["detected"]) == {"health_score", "episodes", "tickets"}
    assert "what the platform detected" in output or "nothing detected" in output

    # The machines were onboarded into the tenant, with their models.
    listed = tenant.get("/v1/equipment", page_size=50).json()["items"]
    assert {m["id"] for m in listed} >= {m["equipment_id"] for m in machines}
    models = tenant.get("/v1/equipment-models", page_size=50).json()["items"]
    assert len(models) == 3
    assert all(8 <= len(m["signals"]) <= 15 for m in models)
