"""A plant manager reads the anomaly episodes of a whole line or plant: the
machines at its stations, found through the production service."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import numpy as np

from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for

SIGNALS = ["load", "current", "vibration", "temperature"]
ROWS = 1500
STEP = slice(1100, 1200)


def created(tenant: Tenant, path: str, body: dict[str, Any]) -> str:
    response = tenant.post(path, body)
    assert response.status_code == 201, f"{path}: {response.text}"
    return str(response.json()["id"])


def correlated_rows(start_ms: int) -> tuple[list[int], np.ndarray]:
    """Signals that follow one slowly varying load, one of which steps away from it."""
    rng = np.random.default_rng(7)
    load = 50 + 10 * np.sin(np.arange(ROWS) / 300) + rng.normal(0, 1, ROWS)
    values = np.stack(
        [load * (1 + 0.1 * k) + rng.normal(0, 1 + 0.2 * k, ROWS) for k in range(len(SIGNALS))],
        axis=1,
    )
    values[STEP, 3] += 40
    return [start_ms + 1000 * row for row in range(ROWS)], values


def send(base_url: str, secret: str, stamps: list[int], values: np.ndarray) -> None:
    for number, first in enumerate(range(0, ROWS, 100)):
        rows = slice(first, first + 100)
        response = httpx.post(
            f"{base_url}/v1/device/telemetry",
            headers={"Authorization": f"Bearer {secret}"},
            json={
                "sequence_id": number,
                "series": [
                    {
                        "signal": name,
                        "timestamps_ms": stamps[rows],
                        "values": values[rows, column].tolist(),
                    }
                    for column, name in enumerate(SIGNALS)
                ],
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text
        assert response.json()["refusals"] == []


def test_a_line_and_its_plant_list_the_episodes_of_their_machines(
    embedded_platform: RunningPlatform,
) -> None:
    base = embedded_platform.base_url
    tenant = sign_up(base, f"Plant manager {uuid.uuid4().hex[:6]}")
    plant = created(tenant, "/v1/plants", {"name": "Plant", "time_zone": "Europe/Berlin"})
    line = created(tenant, "/v1/lines", {"plant_id": plant, "name": "Pressing"})
    empty_line = created(tenant, "/v1/lines", {"plant_id": plant, "name": "Not yet equipped"})
    station = created(tenant, "/v1/stations", {"line_id": line, "name": "Station 10"})
    model = created(
        tenant,
        "/v1/equipment-models",
        {"name": "Press", "signals": [{"name": name} for name in SIGNALS]},
    )
    machine = created(
        tenant,
        "/v1/equipment",
        {"equipment_model_id": model, "serial_number": "P-1", "station_id": station},
    )
    secret = tenant.post(f"/v1/equipment/{machine}/credentials", {}).json()["secret"]
    stamps, values = correlated_rows(int(time.time() * 1000) - 1000 * (ROWS + 60))

    send(base, secret, stamps, values)

    def anomaly_episodes(path: str) -> list[dict[str, Any]]:
        response = tenant.get(path, kind="anomaly")
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    of_machine = wait_for(
        lambda: anomaly_episodes(f"/v1/equipment/{machine}/anomaly-episodes"),
        timeout_s=60,
        what="the step's anomaly episode",
    )
    assert of_machine[0]["top_signals"][0] == "temperature"
    assert anomaly_episodes(f"/v1/lines/{line}/anomaly-episodes") == of_machine
    assert anomaly_episodes(f"/v1/plants/{plant}/anomaly-episodes") == of_machine
    assert anomaly_episodes(f"/v1/lines/{empty_line}/anomaly-episodes") == []
    unknown = tenant.get(f"/v1/lines/{uuid.uuid4()}/anomaly-episodes")
    assert unknown.status_code == 404, unknown.text
    assert tenant.get(f"/v1/plants/{uuid.uuid4()}/anomaly-episodes").status_code == 404
