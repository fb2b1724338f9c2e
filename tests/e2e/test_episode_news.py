"""What products says about a machine's episodes, end to end on the distributed
platform (gateway -> Kafka -> products on PostgreSQL -> Kafka -> servitization):
an anomaly that grows is announced as it escalates, so its maintenance ticket
follows it while it is still open; a device resending what it sent changes no
episode."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np

from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for

SIGNALS = ["load", "current", "vibration", "temperature"]


def correlated_rows(start_ms: int, rows: int) -> tuple[list[int], np.ndarray]:
    """Signals that follow one slowly varying load."""
    rng = np.random.default_rng(7)
    load = 50 + 10 * np.sin(np.arange(rows) / 300) + rng.normal(0, 1, rows)
    values = np.stack(
        [load * (1 + 0.1 * k) + rng.normal(0, 1 + 0.2 * k, rows) for k in range(len(SIGNALS))],
        axis=1,
    )
    return [start_ms + 1000 * row for row in range(rows)], values


def machine_of(tenant: Tenant) -> tuple[str, str]:
    model = tenant.post(
        "/v1/equipment-models",
        {"name": f"Press {uuid.uuid4().hex[:6]}", "signals": [{"name": s} for s in SIGNALS]},
    )
    assert model.status_code == 201, model.text
    machine = tenant.post(
        "/v1/equipment", {"equipment_model_id": model.json()["id"], "serial_number": "P-1"}
    )
    assert machine.status_code == 201, machine.text
    credential = tenant.post(f"/v1/equipment/{machine.json()['id']}/credentials", {})
    return machine.json()["id"], credential.json()["secret"]


def send(
    base_url: str,
    secret: str,
    stamps: list[int],
    values: np.ndarray,
    rows: range,
    *,
    rows_per_batch: int,
    first_sequence: int,
) -> None:
    for number, first in enumerate(range(rows.start, rows.stop, rows_per_batch)):
        part = slice(first, min(first + rows_per_batch, rows.stop))
        response = httpx.post(
            f"{base_url}/v1/device/telemetry",
            headers={"Authorization": f"Bearer {secret}"},
            json={
                "sequence_id": first_sequence + number,
                "series": [
                    {
                        "signal": name,
                        "timestamps_ms": stamps[part],
                        "values": values[part, column].tolist(),
                    }
                    for column, name in enumerate(SIGNALS)
                ],
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text
        assert response.json()["refusals"] == []


def episodes(tenant: Tenant, machine: str, kind: str = "") -> list[dict[str, Any]]:
    response = tenant.get(f"/v1/equipment/{machine}/anomaly-episodes", kind=kind)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def stored_points(tenant: Tenant, machine: str, stamps: list[int]) -> int:
    window = {
        "start": datetime.fromtimestamp(stamps[0] / 1000, UTC).isoformat(),
        "end": datetime.fromtimestamp(stamps[-1] / 1000 + 1, UTC).isoformat(),
    }
    counted, token = 0, ""
    while True:
        page = tenant.get(
            f"/v1/equipment/{machine}/telemetry",
            signal=SIGNALS,
            page_size=10_000,
            page_token=token,
            **window,
        ).json()
        counted += sum(len(s["timestamps_ms"]) for s in page["series"])
        token = page["next_page_token"]
        if not token:
            return counted


def test_a_growing_anomaly_escalates_its_ticket_while_it_is_still_open(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    tenant = sign_up(base, f"Escalation {uuid.uuid4().hex[:6]}")
    machine, secret = machine_of(tenant)
    rows = 1250
    stamps, values = correlated_rows(int(time.time() * 1000) - 1000 * (rows + 60), rows)
    values[1100:, 3] += np.linspace(3, 80, rows - 1100)  # a step that keeps growing

    # The episode opens low (no ticket for that) and grows to high; the data ends
    # while it is still flagged, so only its escalation can bring the ticket now.
    send(base, secret, stamps, values, range(rows), rows_per_batch=50, first_sequence=0)

    def urgent_ticket() -> list[dict[str, Any]]:
        listed = tenant.get("/v1/maintenance-tickets", equipment_id=machine).json()["items"]
        return [t for t in listed if t["priority"] == "high"]

    (ticket,) = wait_for(urgent_ticket, timeout_s=45, what="a high-priority ticket")
    (episode,) = episodes(tenant, machine, kind="anomaly")
    assert not episode["closed"], "the ticket came from the close, not the escalation"
    assert episode["severity"] == "high"
    assert ticket["source_episode_id"] == episode["id"]
    listed = tenant.get("/v1/maintenance-tickets", equipment_id=machine).json()["items"]
    assert len(listed) == 1, "one ticket, escalated, not one per news"


def test_a_device_resending_what_it_sent_changes_no_episode(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    tenant = sign_up(base, f"Resends {uuid.uuid4().hex[:6]}")
    machine, secret = machine_of(tenant)
    rows = 700
    stamps, values = correlated_rows(int(time.time() * 1000) - 1000 * (rows + 60), rows)
    send(base, secret, stamps, values, range(600), rows_per_batch=50, first_sequence=0)
    wait_for(
        lambda: stored_points(tenant, machine, stamps) == 600 * len(SIGNALS),
        timeout_s=60,
        what="the first points",
    )
    before = episodes(tenant, machine)

    # After a lost ack: the last batch again, same sequence id; after a restart:
    # the same rows under new sequence ids, cut differently.
    send(base, secret, stamps, values, range(550, 600), rows_per_batch=50, first_sequence=11)
    send(base, secret, stamps, values, range(300, 600), rows_per_batch=70, first_sequence=1000)
    # Then new rows, behind the resends on the machine's partition.
    send(base, secret, stamps, values, range(600, rows), rows_per_batch=50, first_sequence=2000)
    wait_for(
        lambda: stored_points(tenant, machine, stamps) == rows * len(SIGNALS),
        timeout_s=60,
        what="the new points",
    )
    assert episodes(tenant, machine, kind="data_quality") == []
    assert episodes(tenant, machine) == before
