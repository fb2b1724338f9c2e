"""Remote operation on the distributed platform: commands reach the machine over
its device link, and end succeeded, rejected or expired, never vanishing."""

from __future__ import annotations

import uuid
from typing import Any

from imcloud_device import Command, CommandOutcome, DeviceClient
from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for
from tests.support.world import World, onboard


def state_of(tenant: Tenant, command_id: str, wanted: str) -> dict[str, Any] | None:
    command: dict[str, Any] = tenant.get(f"/v1/commands/{command_id}").json()
    return command if command["state"] == wanted else None


def machine_answering(link: str, world: World, seen: list[Command]) -> DeviceClient:
    def answer(command: Command) -> tuple[CommandOutcome, str]:
        seen.append(command)
        if command.name == "self_destruct":
            return CommandOutcome.REJECTED, "not on this machine"
        return CommandOutcome.SUCCEEDED, f"spindle at {command.parameters['rpm']:.0f} rpm"

    secret = world.device_secrets[world.ids["equipment_id"]]
    return DeviceClient(link, secret, on_command=answer).start()


def test_a_connected_machine_carries_out_or_rejects_commands(
    distributed_platform: RunningPlatform,
) -> None:
    link = distributed_platform.device_link
    acme = onboard(distributed_platform.base_url, "Acme", machines=1)
    machine = acme.ids["equipment_id"]
    seen: list[Command] = []
    client = machine_answering(link, acme, seen)
    try:
        client.record("spindle_speed", 1000.0)
        assert client.flush(timeout_s=30), "the link did not come up"
        sent = acme.tenant.post(
            f"/v1/equipment/{machine}/commands", {"name": "set_speed", "parameters": {"rpm": 8000}}
        )
        assert sent.status_code == 202, sent.text
        assert sent.json()["state"] in ("pending", "delivered")
        done = wait_for(
            lambda: state_of(acme.tenant, sent.json()["id"], "succeeded"),
            timeout_s=30,
            what="the machine's answer",
        )
        assert done["detail"] == "spindle at 8000 rpm"
        assert done["requested_by"].startswith("key:")
        refused = acme.tenant.post(
            f"/v1/equipment/{machine}/commands", {"name": "self_destruct"}
        ).json()
        wait_for(lambda: state_of(acme.tenant, refused["id"], "rejected"), timeout_s=30)
        assert [c.name for c in seen] == ["set_speed", "self_destruct"]
    finally:
        client.close()


def test_a_command_waits_for_the_machine_to_connect(distributed_platform: RunningPlatform) -> None:
    link = distributed_platform.device_link
    acme = onboard(distributed_platform.base_url, "Acme", machines=1)
    sent = acme.tenant.post(
        f"/v1/equipment/{acme.ids['equipment_id']}/commands",
        {"name": "set_speed", "parameters": {"rpm": 1200}, "timeout_s": 120},
    ).json()
    assert state_of(acme.tenant, sent["id"], "pending")
    seen: list[Command] = []
    client = machine_answering(link, acme, seen)
    try:
        wait_for(lambda: state_of(acme.tenant, sent["id"], "succeeded"), timeout_s=30)
    finally:
        client.close()


def test_an_unanswered_command_expires_with_a_reason(distributed_platform: RunningPlatform) -> None:
    acme = onboard(distributed_platform.base_url, "Acme", machines=1)
    sent = acme.tenant.post(
        f"/v1/equipment/{acme.ids['equipment_id']}/commands",
        {"name": "set_speed", "parameters": {"rpm": 1}, "timeout_s": 1},
    ).json()
    expired = wait_for(lambda: state_of(acme.tenant, sent["id"], "expired"), timeout_s=30)
    assert "not connected" in expired["detail"]
    listed = acme.tenant.get(f"/v1/equipment/{acme.ids['equipment_id']}/commands").json()
    assert [c["id"] for c in listed["items"]] == [sent["id"]]


def test_only_a_commands_grant_lets_an_equipment_maker_send(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    acme = onboard(base, "Acme", machines=1)
    maker = sign_up(base, f"Maker {uuid.uuid4().hex[:6]}", kind="oem")
    machine = acme.ids["equipment_id"]
    body = {"name": "set_speed", "parameters": {"rpm": 100}}

    def grant(scopes: list[str]) -> str:
        response = acme.tenant.post(
            "/v1/access-grants",
            {"grantee_tenant_id": maker.id, "equipment_id": machine, "scopes": scopes},
        )
        return str(response.json()["id"])

    read_only = grant(["twin:read"])
    assert maker.post(f"/v1/granted-equipment/{machine}/commands", body).status_code == 404
    acme.tenant.post(f"/v1/access-grants/{read_only}:revoke", {})
    grant(["commands:send"])
    sent = maker.post(f"/v1/granted-equipment/{machine}/commands", body)
    assert sent.status_code == 202, sent.text
    assert sent.json()["requested_by"].endswith(f"@{maker.id}")
    assert [
        c["id"] for c in acme.tenant.get(f"/v1/equipment/{machine}/commands").json()["items"]
    ] == [sent.json()["id"]]


def nested(depth: int, *, objects: bool) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"x": value} if objects else [value]
    return value


def test_parameters_nested_too_deep_are_refused_and_block_no_other_tenant(
    distributed_platform: RunningPlatform,
) -> None:
    link = distributed_platform.device_link
    mallory = onboard(distributed_platform.base_url, "Mallory", machines=1)
    acme = onboard(distributed_platform.base_url, "Acme", machines=1)
    for poison in (nested(49, objects=False), nested(33, objects=True)):
        sent = mallory.tenant.post(
            f"/v1/equipment/{mallory.ids['equipment_id']}/commands",
            {"name": "set_speed", "parameters": {"rpm": poison}},
        )
        assert sent.status_code == 422, sent.text
        assert sent.json()["error"]["details"][0]["field"] == "parameters"
    stored = mallory.tenant.get(f"/v1/equipment/{mallory.ids['equipment_id']}/commands")
    assert stored.json()["items"] == []

    # Deep enough to be real, shallow enough to be accepted.
    seen: list[Command] = []
    client = machine_answering(link, acme, seen)
    try:
        sent = acme.tenant.post(
            f"/v1/equipment/{acme.ids['equipment_id']}/commands",
            {"name": "set_speed", "parameters": {"rpm": 500, "profile": nested(6, objects=True)}},
        )
        assert sent.status_code == 202, sent.text
        wait_for(lambda: state_of(acme.tenant, sent.json()["id"], "succeeded"), timeout_s=30)
    finally:
        client.close()


def test_every_waiting_command_reaches_the_machine_on_connect(
    distributed_platform: RunningPlatform,
) -> None:
    link = distributed_platform.device_link
    acme = onboard(distributed_platform.base_url, "Backlog", machines=1)
    machine = acme.ids["equipment_id"]
    waiting = 130  # more than one page of ListCommands
    for number in range(waiting):
        sent = acme.tenant.post(
            f"/v1/equipment/{machine}/commands",
            {"name": "set_speed", "parameters": {"rpm": 1000 + number}, "timeout_s": 300},
        )
        assert sent.status_code == 202, sent.text
    seen: list[Command] = []
    client = machine_answering(link, acme, seen)
    try:
        wait_for(lambda: len(seen) >= waiting or None, timeout_s=60, what="every command")
    finally:
        client.close()
    # Oldest first, each once.
    assert [c.parameters["rpm"] for c in seen] == [1000 + n for n in range(waiting)]


def test_integer_parameters_arrive_as_integers(distributed_platform: RunningPlatform) -> None:
    link = distributed_platform.device_link
    acme = onboard(distributed_platform.base_url, "Integers", machines=1)
    parameters = {"rpm": 1200.5, "steps": 3, "plan": {"passes": [1, 2.5]}}
    sent = acme.tenant.post(
        f"/v1/equipment/{acme.ids['equipment_id']}/commands",
        {"name": "set_speed", "parameters": parameters, "timeout_s": 120},
    )
    assert sent.status_code == 202, sent.text
    assert type(sent.json()["parameters"]["steps"]) is int
    seen: list[Command] = []
    client = machine_answering(link, acme, seen)
    try:
        wait_for(lambda: seen or None, timeout_s=30, what="the command")
    finally:
        client.close()
    received = seen[0].parameters
    assert received == parameters
    assert type(received["steps"]) is int
    assert type(received["plan"]["passes"][0]) is int
    assert type(received["rpm"]) is float
    shown = acme.tenant.get(f"/v1/commands/{sent.json()['id']}").json()["parameters"]
    assert type(shown["steps"]) is int
