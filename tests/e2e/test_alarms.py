"""Alarm rules judged in the stream: an alarm opens once per breach, is
acknowledged, clears when the signal is back, and a restart of servitization in
the middle changes none of it; a silent machine raises a no-data alarm that its
next data clears."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for
from tests.support.world import World, onboard

# A rule is judged from at most a second after its creation (servitization's cache).
RULE_TAKES_EFFECT_S = 1.1


@pytest.fixture(params=["embedded", "distributed"])
def platform(request: pytest.FixtureRequest) -> RunningPlatform:
    platform: RunningPlatform = request.getfixturevalue(f"{request.param}_platform")
    return platform


def send(world: World, sequence_id: int, points: list[tuple[int, float]]) -> None:
    secret = world.device_secrets[world.ids["equipment_id"]]
    response = world.tenant.http.post(
        "/v1/device/telemetry",
        json={
            "sequence_id": sequence_id,
            "series": [
                {
                    "signal": "spindle_temperature",
                    "timestamps_ms": [stamp for stamp, _ in points],
                    "values": [value for _, value in points],
                }
            ],
        },
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200, response.text


def alarms_of(world: World, rule_id: str) -> list[dict[str, Any]]:
    response = world.tenant.get("/v1/alarms", rule_id=rule_id)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def rule(world: World, **threshold: Any) -> dict[str, Any]:
    return {
        "name": "Spindle too hot",
        "severity": "major",
        "scope": {"equipment_model_id": world.ids["equipment_model_id"]},
        "condition": {"threshold": threshold},
    }


HOT = {"signal": "spindle_temperature", "threshold": 90, "duration_s": 2, "hysteresis": 5}


def refused_field(world: World, body: dict[str, Any]) -> list[str]:
    response = world.tenant.post("/v1/alarm-rules", body)
    assert response.status_code == 422, response.text
    return [d["field"] for d in response.json()["error"]["details"]]


def test_bad_rules_are_refused_naming_their_field(embedded_platform: RunningPlatform) -> None:
    world, other = (onboard(embedded_platform.base_url, n, machines=1) for n in ("Own", "Other"))
    assert refused_field(world, rule(world, **{**HOT, "signal": "spindle_torque"})) == [
        "condition.threshold.signal"
    ]
    assert refused_field(world, rule(world, **{**HOT, "duration_s": -1})) == [
        "condition.threshold.duration_s"
    ]
    elsewhere = {**rule(world, **HOT), "scope": {"equipment_id": other.ids["equipment_id"]}}
    assert refused_field(world, elsewhere) == ["scope.equipment_id"]
    silent = {**rule(world), "condition": {"no_data": {"signal": "torque", "duration_s": 60}}}
    assert refused_field(world, silent) == ["condition.no_data.signal"]
    shift_oee = {"kpi": {"kpi": "oee", "target": 0.75}}
    assert refused_field(world, {**rule(world), "condition": shift_oee}) == ["scope"]
    assert world.tenant.get("/v1/alarm-rules").json()["items"] == []
    station_wide = {**rule(world), "scope": {"station_id": world.ids["station_id"]}}
    kept = world.tenant.post("/v1/alarm-rules", {**station_wide, "condition": shift_oee})
    assert kept.status_code == 201, kept.text
    assert kept.json()["condition"]["kpi"] == {"kpi": "oee", "target": 0.75}


def test_a_threshold_alarm_opens_once_is_acknowledged_and_clears_through_a_restart(
    platform: RunningPlatform,
) -> None:
    world = onboard(platform.base_url, "Alarms", machines=1)
    created = world.tenant.post("/v1/alarm-rules", rule(world, **HOT))
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    time.sleep(RULE_TAKES_EFFECT_S)

    t0 = (int(time.time()) - 600) * 1000
    # A breach shorter than duration_s raises nothing; the next one lasts.
    send(world, 1, [(t0, 95.0), (t0 + 1000, 80.0), (t0 + 10_000, 95.0), (t0 + 11_000, 96.0)])
    send(world, 2, [(t0 + 12_000, 97.0), (t0 + 13_000, 98.0)])
    (alarm,) = wait_for(lambda: alarms_of(world, rule_id), timeout_s=30, what="the alarm")
    assert (alarm["state"], alarm["severity"], alarm["equipment_id"]) == (
        "active",
        "major",
        world.ids["equipment_id"],
    )
    assert alarm["raise_time"].startswith(
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((t0 + 10_000) / 1000))
    )
    assert alarm["value"] == 97.0
    assert alarm["detail"] == "spindle_temperature 97 above 90 for 2 s"

    acknowledged = world.tenant.post(f"/v1/alarms/{alarm['id']}:acknowledge", {})
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["state"] == "acknowledged"
    assert acknowledged.json()["acknowledged_by"]

    # Still too hot, then inside the hysteresis band: the alarm stays as it is.
    send(world, 3, [(t0 + 14_000, 99.0), (t0 + 15_000, 88.0)])
    if "servitization" in platform.processes:
        # Killed while judging, or before committing what it judged: judged again.
        platform.kill_and_restart("servitization")
    # The same batch again (a machine that did not hear its acknowledgement).
    send(world, 3, [(t0 + 14_000, 99.0), (t0 + 15_000, 88.0)])
    send(world, 4, [(t0 + 16_000, 84.0)])

    def cleared() -> dict[str, Any] | None:
        found = alarms_of(world, rule_id)
        return found[0] if found and found[0]["state"] == "cleared" else None

    (ended,) = [wait_for(cleared, timeout_s=60, what="the alarm cleared")]
    assert ended["id"] == alarm["id"]
    assert ended["cleared_by"] == ""
    assert ended["clear_time"].startswith(
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((t0 + 16_000) / 1000))
    )
    # A new breach is a new alarm; the old one stays cleared.
    send(world, 5, [(t0 + 20_000, 91.0), (t0 + 23_000, 92.0)])
    newest, oldest = wait_for(
        lambda: (found := alarms_of(world, rule_id))[1:] and found,
        timeout_s=30,
        what="the second alarm",
    )
    assert (newest["state"], oldest["id"], oldest["state"]) == ("active", alarm["id"], "cleared")
    assert len(world.tenant.get("/v1/alarms", open_only=True).json()["items"]) == 1

    exported = world.tenant.http.get("/v1/alarms:export", params={"rule_id": rule_id})
    assert exported.status_code == 200, exported.text
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["id"], r["state"]) for r in rows] == [
        (newest["id"], "active"),
        (alarm["id"], "cleared"),
    ]

    # Deleting the rule clears what it keeps open, by whoever deleted it.
    assert world.tenant.http.delete(f"/v1/alarm-rules/{rule_id}").status_code == 204
    gone = world.tenant.get(f"/v1/alarms/{newest['id']}").json()
    assert (gone["state"], bool(gone["cleared_by"])) == ("cleared", True)
    assert world.tenant.get(f"/v1/alarm-rules/{rule_id}").status_code == 404


def test_a_silent_machine_raises_a_no_data_alarm_and_its_next_data_clears_it(
    platform: RunningPlatform,
) -> None:
    world = onboard(platform.base_url, "Silence", machines=1)
    silent = {
        **rule(world),
        "scope": {"equipment_id": world.ids["equipment_id"]},
        "condition": {"no_data": {"duration_s": 3}},
    }
    created = world.tenant.post("/v1/alarm-rules", silent)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    (alarm,) = wait_for(lambda: alarms_of(world, rule_id), timeout_s=30, what="no-data alarm")
    assert (alarm["state"], alarm["detail"]) == ("active", "no data from any signal for 3 s")
    # Silent since the rule's creation (the service keeps times to the millisecond).
    since = datetime.fromisoformat(alarm["raise_time"])
    assert abs(since - datetime.fromisoformat(created.json()["create_time"])) < timedelta(
        milliseconds=2
    )
    send(world, 1, [(int(time.time() * 1000), 20.0)])
    wait_for(
        lambda: alarms_of(world, rule_id)[0]["state"] == "cleared",
        timeout_s=30,
        what="the alarm cleared by data",
    )
    # Silent again: a second alarm, raised when the data stopped.
    newest, _ = wait_for(
        lambda: (found := alarms_of(world, rule_id))[1:] and found,
        timeout_s=30,
        what="the second no-data alarm",
    )
    assert newest["state"] == "active"
