"""The command ledger driven like a user and a machine would: a duplicate
submission returns the same command, a cancelled command never runs, an answer
after the expiry is kept as late, an equipment maker sees what it sent, and
killing servitization and then a gateway mid-flight loses no command and runs
none twice (two gateway replicas on real Kafka and PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from imcloud_device import Command, CommandOutcome, DeviceClient
from tests.e2e.test_gateway_replicas import replica
from tests.support.api import Tenant, sign_up
from tests.support.platform import Ports, RunningPlatform
from tests.support.waiting import wait_for
from tests.support.world import World, onboard

Handler = Callable[[Command], tuple[CommandOutcome, str]]


@pytest.fixture(params=["embedded", "distributed"])
def platform(request: pytest.FixtureRequest) -> RunningPlatform:
    platform: RunningPlatform = request.getfixturevalue(f"{request.param}_platform")
    return platform


class Machine:
    """A machine on the SDK that counts how often each command ran on it."""

    def __init__(self, link: str, world: World, gate: Handler | None = None) -> None:
        self.runs: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._gate = gate
        secret = world.device_secrets[world.ids["equipment_id"]]
        self.client = DeviceClient(link, secret, on_command=self._run, reconnect_backoff_s=(0.2, 1))

    def _run(self, command: Command) -> tuple[CommandOutcome, str]:
        with self._lock:
            self.runs[command.command_id] += 1
        if self._gate is not None:
            return self._gate(command)
        return CommandOutcome.SUCCEEDED, f"{command.name} done"

    def __enter__(self) -> Machine:
        self.client.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()


def command_of(tenant: Tenant, command_id: str) -> dict[str, Any]:
    answer = tenant.get(f"/v1/commands/{command_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def in_state(tenant: Tenant, command_id: str, wanted: str) -> dict[str, Any] | None:
    command = command_of(tenant, command_id)
    return command if command["state"] == wanted else None


def send(
    tenant: Tenant, machine: str, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return tenant.http.post(f"/v1/equipment/{machine}/commands", json=body, headers=headers)


def test_a_duplicate_submission_returns_the_same_command_which_runs_once(
    platform: RunningPlatform,
) -> None:
    acme = onboard(platform.base_url, "Duplicates", machines=1)
    machine = acme.ids["equipment_id"]
    body = {"name": "set_speed", "parameters": {"rpm": 900}, "timeout_s": 120}
    first = send(acme.tenant, machine, body, key="shift-3-speed")
    assert first.status_code == 202, first.text
    again = send(acme.tenant, machine, body, key="shift-3-speed")
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    other = send(acme.tenant, machine, {**body, "parameters": {"rpm": 901}}, key="shift-3-speed")
    assert other.status_code == 409, other.text
    assert "shift-3-speed" in other.json()["error"]["message"]

    with Machine(platform.device_link, acme) as device:
        done = wait_for(
            lambda: in_state(acme.tenant, first.json()["id"], "succeeded"),
            timeout_s=30,
            what="the command's answer",
        )
        assert send(acme.tenant, machine, body, key="shift-3-speed").json()["id"] == done["id"]
    assert device.runs == Counter({done["id"]: 1})
    listed = acme.tenant.get(f"/v1/equipment/{machine}/commands", state="succeeded").json()
    assert [c["id"] for c in listed["items"]] == [done["id"]]
    waiting = acme.tenant.http.get(
        f"/v1/equipment/{machine}/commands", params=[("state", "pending"), ("state", "delivered")]
    ).json()
    assert waiting["items"] == []


def test_a_cancelled_command_never_runs(platform: RunningPlatform) -> None:
    acme = onboard(platform.base_url, "Cancels", machines=1)
    machine = acme.ids["equipment_id"]
    # Cancelled while the machine is away: it never reaches it.
    away = send(acme.tenant, machine, {"name": "away", "timeout_s": 300}).json()
    cancelled = acme.tenant.post(f"/v1/commands/{away['id']}:cancel", {})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["cancelled_by"].startswith("key:")
    assert acme.tenant.post(f"/v1/commands/{away['id']}:cancel", {}).json() == cancelled.json()

    # Cancelled once the machine holds it, queued behind a slow one: it drops it.
    busy = threading.Event()
    release = threading.Event()

    def slow_first(command: Command) -> tuple[CommandOutcome, str]:
        if command.name == "slow":
            busy.set()
            release.wait(30)
        return CommandOutcome.SUCCEEDED, "done"

    with Machine(platform.device_link, acme, slow_first) as device:
        slow = send(acme.tenant, machine, {"name": "slow", "timeout_s": 300}).json()
        assert busy.wait(30), "the slow command did not start"
        queued = send(acme.tenant, machine, {"name": "queued", "timeout_s": 300}).json()
        wait_for(
            lambda: in_state(acme.tenant, queued["id"], "delivered"),
            timeout_s=30,
            what="the machine's receipt",
        )
        assert acme.tenant.post(f"/v1/commands/{queued['id']}:cancel", {}).status_code == 200
        # Another command after the cancellation: once it ran, the cancellation was in.
        marker = send(acme.tenant, machine, {"name": "marker", "timeout_s": 300}).json()
        wait_for(lambda: in_state(acme.tenant, marker["id"], "delivered"), timeout_s=30)
        release.set()
        wait_for(lambda: in_state(acme.tenant, marker["id"], "succeeded"), timeout_s=30)
        assert in_state(acme.tenant, slow["id"], "succeeded")
    assert set(device.runs) == {slow["id"], marker["id"]}
    for never_ran in (away["id"], queued["id"]):
        assert command_of(acme.tenant, never_ran)["state"] == "cancelled"
    ended = acme.tenant.post(f"/v1/commands/{marker['id']}:cancel", {})
    assert ended.status_code == 409, ended.text


def test_an_answer_after_the_expiry_is_kept_as_late(platform: RunningPlatform) -> None:
    acme = onboard(platform.base_url, "Late", machines=1)
    machine = acme.ids["equipment_id"]
    expired = threading.Event()

    def answers_after_the_expiry(_: Command) -> tuple[CommandOutcome, str]:
        expired.wait(60)
        return CommandOutcome.SUCCEEDED, "calibrated, late"

    with Machine(platform.device_link, acme, answers_after_the_expiry):
        sent = send(acme.tenant, machine, {"name": "calibrate", "timeout_s": 2}).json()
        gave_up = wait_for(
            lambda: in_state(acme.tenant, sent["id"], "expired"),
            timeout_s=30,
            what="the expiry",
        )
        assert gave_up["late"] is False
        expired.set()
        late = wait_for(
            lambda: in_state(acme.tenant, sent["id"], "succeeded"),
            timeout_s=30,
            what="the late answer",
        )
    assert late["late"] is True
    assert late["detail"] == "calibrated, late"


def test_an_equipment_maker_reads_and_cancels_only_the_commands_it_sent(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    acme = onboard(base, "Customer", machines=1)
    maker = sign_up(base, f"Maker {uuid.uuid4().hex[:6]}", kind="oem")
    machine = acme.ids["equipment_id"]
    granted = acme.tenant.post(
        "/v1/access-grants",
        {"grantee_tenant_id": maker.id, "equipment_id": machine, "scopes": ["commands:send"]},
    )
    assert granted.status_code == 201, granted.text
    customers = send(acme.tenant, machine, {"name": "own", "timeout_s": 300}).json()
    path = f"/v1/granted-equipment/{machine}/commands"
    makers = maker.http.post(
        path, json={"name": "service_check", "timeout_s": 300}, headers={"Idempotency-Key": "m-1"}
    )
    assert makers.status_code == 202, makers.text
    mine = makers.json()["id"]

    assert [c["id"] for c in maker.get(path).json()["items"]] == [mine]
    assert maker.get(f"{path}/{mine}").json()["requested_by"].endswith(f"@{maker.id}")
    assert maker.get(f"{path}/{customers['id']}").status_code == 404
    assert maker.post(f"{path}/{customers['id']}:cancel", {}).status_code == 404
    # The customer's key is not the maker's: reusing it never returns the customer's command.
    reused = send(acme.tenant, machine, {"name": "service_check", "timeout_s": 300}, key="m-1")
    assert reused.status_code == 409, reused.text

    cancelled = maker.post(f"{path}/{mine}:cancel", {})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancelled_by"].endswith(f"@{maker.id}")
    everything = acme.tenant.get(f"/v1/equipment/{machine}/commands").json()["items"]
    assert {c["id"]: c["state"] for c in everything} == {
        mine: "cancelled",
        customers["id"]: "pending",
    }


@pytest.fixture
def second_gateway(distributed_platform: RunningPlatform, tmp_path: Path) -> Iterator[Ports]:
    ports = Ports()
    with replica(distributed_platform, ports, tmp_path / "gateway-2.log"):
        yield ports


def test_killing_servitization_then_a_gateway_mid_flight_loses_nothing_and_runs_nothing_twice(
    distributed_platform: RunningPlatform, second_gateway: Ports
) -> None:
    platform = distributed_platform
    acme = onboard(platform.base_url, "Crashes", machines=1)
    machine = acme.ids["equipment_id"]
    via_second = Tenant(second_gateway.base_url, acme.tenant.key, acme.tenant.id)
    # The machine knows both gateways and moves to the other when its own goes away.
    both = f"ipv4:{platform.device_link},{second_gateway.device_link}"
    sent: list[str] = []

    def accepted(tenant: Tenant, body: dict[str, Any], key: str) -> httpx.Response | None:
        try:
            answer = send(tenant, machine, body, key)
        except httpx.TransportError:
            return None
        return answer if answer.status_code < 500 else None

    def submit(tenant: Tenant, wave: str, count: int) -> None:
        for number in range(count):
            key = f"{wave}-{number}"
            body = {"name": "step", "parameters": {"n": number}, "timeout_s": 600}
            # A client retries with the same key until it hears back: never twice.
            answer = wait_for(
                lambda: accepted(tenant, body, key),  # noqa: B023 - called at once
                timeout_s=60,
                interval_s=0.5,
                what=f"command {key} accepted",
            )
            assert answer.status_code in (200, 202), answer.text
            sent.append(answer.json()["id"])

    with Machine(both, acme) as device:
        submit(acme.tenant, "before", 10)
        platform.kill_and_restart("servitization")
        submit(acme.tenant, "after-servitization", 10)
        platform.kill_and_restart("gateway")
        submit(via_second, "after-gateway", 10)
        submit(acme.tenant, "restarted-gateway", 5)
        wait_for(
            lambda: all(in_state(via_second, c, "succeeded") for c in sent),
            timeout_s=120,
            interval_s=0.5,
            what="every command answered",
        )
    assert len(set(sent)) == 35
    assert device.runs == Counter(dict.fromkeys(sent, 1))
