"""The twin's desired state on real Kafka and PostgreSQL with two gateway processes:
a change made while the machine is offline reaches it exactly once when it
reconnects to the other gateway, a stale version is refused, and an equipment
maker changes it only through a grant with the config:write scope."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imcloud_device import DesiredState, DeviceClient
from tests.e2e.test_gateway_replicas import replica
from tests.e2e.test_tenant_isolation import grant
from tests.support.api import sign_up
from tests.support.platform import Ports, RunningPlatform
from tests.support.waiting import wait_for
from tests.support.world import World, onboard


@pytest.fixture
def other_gateway(distributed_platform: RunningPlatform, tmp_path: Path) -> Iterator[Ports]:
    ports = Ports()
    with replica(distributed_platform, ports, tmp_path / "gateway-2.log"):
        yield ports


class Machine:
    def __init__(self) -> None:
        self.applied: list[DesiredState] = []
        self._lock = threading.Lock()

    def apply(self, desired: DesiredState) -> None:
        with self._lock:
            self.applied.append(desired)

    def versions(self) -> list[int]:
        with self._lock:
            return [d.version for d in self.applied]


def twin_path(world: World, *, granted: bool = False) -> str:
    root = "granted-equipment" if granted else "equipment"
    return f"/v1/{root}/{world.ids['equipment_id']}/twin"


def twin_applied(world: World, version: int) -> dict[str, Any] | None:
    twin: dict[str, Any] = world.tenant.get(twin_path(world)).json()
    return twin if twin["applied_version"] == version else None


def test_a_change_made_offline_reaches_the_machine_once_on_the_other_gateway(
    distributed_platform: RunningPlatform, other_gateway: Ports
) -> None:
    world = onboard(distributed_platform.base_url, "Desired", machines=1)
    secret = world.device_secrets[world.ids["equipment_id"]]
    machine = Machine()
    client = DeviceClient(distributed_platform.device_link, secret, on_desired=machine.apply)
    with client:
        first = world.tenant.http.patch(
            twin_path(world), json={"desired": {"feed_override": 90}, "version": 0}
        )
        assert first.status_code == 200, first.text
        wait_for(lambda: twin_applied(world, 1), timeout_s=60, what="version 1 applied")

    offline = world.tenant.http.patch(
        twin_path(world), json={"desired": {"feed_override": 95, "mode": "eco"}, "version": 1}
    )
    assert offline.status_code == 200, offline.text
    assert offline.json()["delta"] == [
        {"property": "feed_override", "desired": 95, "reported": None},
        {"property": "mode", "desired": "eco", "reported": None},
    ]
    stale = world.tenant.http.patch(
        twin_path(world), json={"desired": {"feed_override": 80}, "version": 1}
    )
    assert stale.status_code == 409, stale.text
    assert "at version 2" in stale.json()["error"]["message"]

    # The same machine (it remembers what it applied) comes back on the other gateway.
    client = DeviceClient(other_gateway.device_link, secret, on_desired=machine.apply)
    with client:
        twin = wait_for(lambda: twin_applied(world, 2), timeout_s=60, what="version 2 applied")
        # A change while it is connected there goes down that gateway's link.
        third = world.tenant.http.patch(
            f"{other_gateway.base_url}{twin_path(world)}",
            json={"desired": {"mode": "turbo"}, "version": 2},
        )
        assert third.status_code == 200, third.text
        wait_for(lambda: twin_applied(world, 3), timeout_s=60, what="version 3 applied")
    assert machine.versions() == [1, 2, 3]
    assert machine.applied[1].properties == {"feed_override": 95, "mode": "eco"}
    assert twin["delta"] == []

    audited = world.tenant.get("/v1/audit-events", page_size=500).json()["items"]
    actions = [e["action"] for e in audited]
    assert actions.count("PATCH /v1/equipment/{equipment_id}/twin") == 4


@pytest.fixture(params=["embedded", "distributed"])
def platform(request: pytest.FixtureRequest) -> RunningPlatform:
    platform: RunningPlatform = request.getfixturevalue(f"{request.param}_platform")
    return platform


def test_a_maker_changes_the_desired_state_only_with_config_write(
    platform: RunningPlatform,
) -> None:
    base = platform.base_url
    customer = onboard(base, "Customer", machines=1)
    maker = sign_up(base, f"Maker {uuid.uuid4().hex[:6]}", kind="oem")
    body = {"desired": {"firmware_channel": "beta"}, "version": 0}
    grant(customer, maker, "equipment_id", ["twin:read"])
    refused = maker.http.patch(twin_path(customer, granted=True), json=body)
    assert refused.status_code == 404, refused.text
    grant(customer, maker, "equipment_id", ["config:write"])
    changed = maker.http.patch(twin_path(customer, granted=True), json=body)
    assert changed.status_code == 200, changed.text
    desired = changed.json()["desired"]
    assert desired["version"] == 1
    assert desired["update_actor"].endswith(f"@{maker.id}")
    seen = customer.tenant.get(twin_path(customer)).json()
    assert seen["desired"]["properties"] == {"firmware_channel": "beta"}
    audited = customer.tenant.get("/v1/audit-events", page_size=500).json()["items"]
    assert "PATCH /v1/granted-equipment/{equipment_id}/twin" in [e["action"] for e in audited]
