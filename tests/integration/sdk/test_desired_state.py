"""The twin's desired state through the device SDK on the real platform: a change
reaches the connected machine, one made while it was away reaches it when it
connects, and the twin shows what the machine applied and what it does not run yet."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from imcloud_device import DesiredState, DeviceClient
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for
from tests.support.world import World, onboard


class Machine:
    """A machine that applies every desired property but the coolant."""

    def __init__(self) -> None:
        self.applied: list[DesiredState] = []
        self.lock = threading.Lock()

    def apply(self, desired: DesiredState) -> str | None:
        with self.lock:
            self.applied.append(desired)
        return "no coolant pump" if "coolant" in desired.properties else None

    def versions(self) -> list[int]:
        with self.lock:
            return [d.version for d in self.applied]


def patch_twin(world: World, body: dict[str, Any]) -> httpx.Response:
    return world.tenant.http.patch(f"/v1/equipment/{world.ids['equipment_id']}/twin", json=body)


def twin_at(world: World, applied_version: int) -> dict[str, Any] | None:
    twin: dict[str, Any] = world.tenant.get(
        f"/v1/equipment/{world.ids['equipment_id']}/twin"
    ).json()
    return twin if twin["applied_version"] == applied_version else None


def test_desired_changes_reach_the_machine_connected_or_not(
    embedded_platform: RunningPlatform,
) -> None:
    world = onboard(embedded_platform.base_url, "Desired", machines=1)
    secret = world.device_secrets[world.ids["equipment_id"]]
    machine = Machine()
    with DeviceClient(embedded_platform.device_link, secret, on_desired=machine.apply) as client:
        client.record("spindle_speed", 7000.0)
        assert client.flush(timeout_s=30), "the link did not come up"
        changed = patch_twin(world, {"desired": {"mode": "eco", "spindle_speed": 8000}})
        assert changed.status_code == 200, changed.text
        desired = changed.json()["desired"]
        assert (desired["version"], desired["properties"]) == (
            1,
            {"mode": "eco", "spindle_speed": 8000},
        )
        assert desired["update_actor"].startswith("key:")
        twin = wait_for(lambda: twin_at(world, 1), timeout_s=30, what="version 1 applied")
        # Applied; the speed is still what the machine measures, not what is desired.
        assert twin["delta"] == [{"property": "spindle_speed", "desired": 8000, "reported": 7000.0}]
        assert twin["applied_detail"] == ""

    offline = patch_twin(world, {"desired": {"mode": None, "coolant": True}, "version": 1})
    assert offline.status_code == 200, offline.text
    stale = patch_twin(world, {"desired": {"mode": "turbo"}, "version": 1})
    assert stale.status_code == 409, stale.text
    assert "at version 2" in stale.json()["error"]["message"]

    # A new client (the machine restarted) gets the version it missed, once.
    again = Machine()
    with DeviceClient(embedded_platform.device_link, secret, on_desired=again.apply):
        twin = wait_for(lambda: twin_at(world, 2), timeout_s=30, what="version 2 applied")
    assert again.versions() == [2]
    assert again.applied[0].properties == {"spindle_speed": 8000, "coolant": True}
    assert twin["applied_detail"] == "no coolant pump"
    assert twin["desired"]["version"] == 2


def test_a_desired_state_beyond_the_limits_is_refused_naming_the_field(
    embedded_platform: RunningPlatform,
) -> None:
    world = onboard(embedded_platform.base_url, "Limits", machines=1)
    nested: Any = 1
    for _ in range(9):
        nested = {"level": nested}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"desired": {"1st": 1}}, "desired.1st"),
        ({"desired": {"blob": "x" * 20_000}}, "desired"),
        ({"desired": {"deep": nested}}, "desired"),
        ({"desired": {}, "version": -1}, "version"),
    ]
    for body, field in cases:
        refused = patch_twin(world, body)
        assert refused.status_code == 422, refused.text
        fields = [d["field"] for d in refused.json()["error"]["details"]]
        assert any(f.endswith(field) for f in fields), (body, fields)
    assert world.tenant.get(f"/v1/equipment/{world.ids['equipment_id']}/twin").json()[
        "desired"
    ] == {"properties": {}, "version": 0, "update_actor": "", "update_time": None}
