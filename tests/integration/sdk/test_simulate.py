"""`imcloud simulate` against the real platform: what it reports as accepted is
what the platform stored."""

from __future__ import annotations

import json
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
    assert "Simulation summary" in result.stdout
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

    # The machines were onboarded into the tenant, with their models.
    listed = tenant.get("/v1/equipment", page_size=50).json()["items"]
    assert {m["id"] for m in listed} >= {m["equipment_id"] for m in machines}
    models = tenant.get("/v1/equipment-models", page_size=50).json()["items"]
    assert len(models) == 3
    assert all(8 <= len(m["signals"]) <= 15 for m in models)
