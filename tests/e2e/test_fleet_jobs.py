"""Fleet jobs through the REST API, with real machines on the device link: a job
over a line of 50 machines of which every fifth rejects aborts at its threshold,
its summary adds up, and the machines still queued never get the command; a
cancelled job starts nothing more; an equipment maker's job over machines of two
customers shows each customer only its own machines."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from imcloud_device import Command, CommandOutcome, DesiredState, DeviceClient
from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for
from tests.support.world import World, onboard

MACHINES = 50
COMMAND = {"name": "set_speed", "parameters": {"rpm": 8000}, "timeout_s": 120}


@pytest.fixture(params=["embedded", "distributed"])
def platform(request: pytest.FixtureRequest) -> RunningPlatform:
    platform: RunningPlatform = request.getfixturevalue(f"{request.param}_platform")
    return platform


def fleet(world: World) -> list[str]:
    """The world's machines in the order onboard made them."""
    machines = [world.ids["equipment_id"]]
    while f"equipment_id_{len(machines)}" in world.ids:
        machines.append(world.ids[f"equipment_id_{len(machines)}"])
    return machines


def secret_of(world: World, equipment_id: str) -> str:
    if equipment_id not in world.device_secrets:
        response = world.tenant.post(f"/v1/equipment/{equipment_id}/credentials", {})
        assert response.status_code == 201, response.text
        world.device_secrets[equipment_id] = response.json()["secret"]
    return world.device_secrets[equipment_id]


@contextmanager
def connected(
    link: str, world: World, machines: list[str], rejecting: set[str]
) -> Iterator[Counter[str]]:
    """Every machine on its device link; those in ``rejecting`` refuse commands.
    Yields how often each machine was handed a command."""
    received: Counter[str] = Counter()
    lock = threading.Lock()

    def handler(equipment_id: str) -> Any:
        def answer(command: Command) -> tuple[CommandOutcome, str]:
            with lock:
                received[equipment_id] += 1
            if equipment_id in rejecting:
                return CommandOutcome.REJECTED, "not in this machine's state"
            return CommandOutcome.SUCCEEDED, f"spindle at {command.parameters['rpm']} rpm"

        return answer

    with ExitStack() as stack:
        clients = []
        for equipment_id in machines:
            client = DeviceClient(
                link, secret_of(world, equipment_id), on_command=handler(equipment_id)
            )
            stack.callback(client.close)
            clients.append(client.start())
        for client in clients:
            client.record("spindle_speed", 1000.0)
        for client in clients:
            assert client.flush(timeout_s=60), "a machine's link did not come up"
        yield received


def job_of(tenant: Tenant, job_id: str, prefix: str = "/v1/jobs") -> dict[str, Any]:
    response = tenant.get(f"{prefix}/{job_id}")
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def ended(tenant: Tenant, job_id: str, prefix: str = "/v1/jobs") -> dict[str, Any] | None:
    job = job_of(tenant, job_id, prefix)
    return job if job["state"] != "in_progress" else None


def executions(
    tenant: Tenant, job_id: str, prefix: str = "/v1/jobs", **params: Any
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = ""
    while True:
        response = tenant.get(
            f"{prefix}/{job_id}/executions", page_size=500, page_token=token, **params
        )
        assert response.status_code == 200, response.text
        found += response.json()["items"]
        token = response.json()["next_page_token"]
        if not token:
            return found


def commands_on(tenant: Tenant, equipment_id: str) -> list[dict[str, Any]]:
    response = tenant.get(f"/v1/equipment/{equipment_id}/commands", page_size=500)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_a_job_over_50_machines_aborts_at_its_threshold_and_the_queued_never_get_it(
    platform: RunningPlatform,
) -> None:
    acme = onboard(platform.base_url, "Acme", machines=MACHINES)
    machines = fleet(acme)
    assert len(machines) == MACHINES
    rejecting = set(machines[4::5])
    with connected(platform.device_link, acme, machines, rejecting) as received:
        created = acme.tenant.post(
            "/v1/jobs",
            {
                "target": {"line_id": acme.ids["line_id"]},
                "command": COMMAND,
                "rollout": {"machines_per_minute": 120},
                "abort_criteria": {"failed_percent": 15, "min_ended": 10},
            },
        )
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
        assert created.json()["machine_count"] == MACHINES
        assert created.json()["target"] == {"kind": "line", "id": acme.ids["line_id"]}

        job = wait_for(lambda: ended(acme.tenant, job_id), timeout_s=120, what="the job's end")

        assert job["state"] == "aborted", job
        assert "abort at 15% after at least 10" in job["detail"]
        summary = job["summary"]
        assert sum(summary.values()) == MACHINES
        assert summary["queued"] == 0
        assert summary["rejected"] >= 2
        every = executions(acme.tenant, job_id)
        assert {e["equipment_id"] for e in every} == set(machines)
        never_started = [e for e in every if not e["command_id"]]
        assert never_started, "the job aborted after every machine had started"
        assert all(e["state"] == "cancelled" for e in never_started)
        assert not any(received[e["equipment_id"]] for e in never_started)
        assert all(not commands_on(acme.tenant, e["equipment_id"]) for e in never_started)
        # Each started machine was sent the command once and ran it at most once.
        for execution in every:
            if execution["command_id"]:
                assert [c["id"] for c in commands_on(acme.tenant, execution["equipment_id"])] == [
                    execution["command_id"]
                ]
                assert received[execution["equipment_id"]] <= 1
        cancelled_only = executions(acme.tenant, job_id, state="cancelled")
        assert len(cancelled_only) == summary["cancelled"]


def test_a_cancelled_job_starts_nothing_more(platform: RunningPlatform) -> None:
    acme = onboard(platform.base_url, "Acme", machines=5)
    machines = fleet(acme)
    created = acme.tenant.post(
        "/v1/jobs",
        {
            "target": {"equipment_ids": machines},
            "command": COMMAND,
            "rollout": {"machines_per_minute": 1},
            "abort_criteria": {"failed_percent": 50},
        },
    ).json()
    # The machines are offline: the first command waits for its machine.
    first = wait_for(
        lambda: [e for e in executions(acme.tenant, created["id"]) if e["command_id"]],
        timeout_s=30,
        what="the first machine started",
    )
    viewer_key = acme.tenant.post("/v1/api-keys", {"name": "v", "role": "viewer"}).json()
    viewer = Tenant(platform.base_url, viewer_key["secret"], acme.tenant.id)
    assert viewer.post(f"/v1/jobs/{created['id']}:cancel", {}).status_code == 403

    cancelled = acme.tenant.post(f"/v1/jobs/{created['id']}:cancel", {})

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["summary"]["cancelled"] == 5
    started = {e["equipment_id"] for e in first}
    command = acme.tenant.get(f"/v1/commands/{first[0]['command_id']}").json()
    assert command["state"] == "cancelled"
    # Past the rollout's next rounds: still only the machine started before.
    time.sleep(3)
    assert {m for m in machines if commands_on(acme.tenant, m)} == started
    assert job_of(acme.tenant, created["id"])["summary"]["cancelled"] == 5
    again = acme.tenant.post(f"/v1/jobs/{created['id']}:cancel", {})
    assert again.status_code == 200
    assert again.json()["state"] == "cancelled"


def test_jobs_outside_the_limits_are_refused_naming_the_field(
    platform: RunningPlatform,
) -> None:
    acme = onboard(platform.base_url, "Acme", machines=1)
    other = onboard(platform.base_url, "Other", machines=1)
    machine = acme.ids["equipment_id"]

    def refused(**changes: Any) -> list[dict[str, str]]:
        body = {
            "target": {"equipment_ids": [machine]},
            "command": COMMAND,
            "abort_criteria": {"failed_percent": 20},
            **changes,
        }
        response = acme.tenant.post("/v1/jobs", body)
        assert response.status_code == 422, response.text
        details: list[dict[str, str]] = response.json()["error"]["details"]
        return details

    unknown = f"{uuid.uuid4()}"
    theirs = other.ids["equipment_id"]
    for stranger in (unknown, theirs):
        details = refused(target={"equipment_ids": [machine, stranger]})
        assert details[0]["field"] == "target.equipment_ids"
        assert details[0]["reason"] == f"no such equipment: {stranger}"
    assert refused(target={"equipment_ids": [f"m-{n}" for n in range(10_001)]})
    assert refused(target={"line_id": acme.ids["line_id"], "plant_id": acme.ids["plant_id"]})
    assert refused(target={"line_id": other.ids["line_id"]})[0]["field"] == "target.line_id"
    for rate in (0, 10_001):
        assert refused(rollout={"machines_per_minute": rate})
    for percent in (0, 101):
        assert refused(abort_criteria={"failed_percent": percent})
    assert acme.tenant.get("/v1/jobs").json()["items"] == []
    assert acme.tenant.get(f"/v1/jobs/{uuid.uuid4()}").status_code == 404


def test_a_makers_job_over_two_customers_shows_each_only_its_own_machines(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    maker = sign_up(base, f"Maker {uuid.uuid4().hex[:6]}", kind="oem")
    acme, globex = (onboard(base, name, machines=2) for name in ("Acme", "Globex"))
    grants: dict[str, tuple[World, str]] = {}
    # Granted in turns, so the rollout starts one machine of each customer first.
    for number in range(2):
        for customer in (acme, globex):
            equipment_id = fleet(customer)[number]
            response = customer.tenant.post(
                "/v1/access-grants",
                {
                    "grantee_tenant_id": maker.id,
                    "equipment_id": equipment_id,
                    "scopes": ["commands:send"],
                },
            )
            assert response.status_code == 201, response.text
            grants[equipment_id] = (customer, response.json()["id"])
    granted = list(grants)
    # A machine granted for reading only is not one the maker may send to.
    read_only = onboard(base, "Initech", machines=1)
    read_only.tenant.post(
        "/v1/access-grants",
        {
            "grantee_tenant_id": maker.id,
            "equipment_id": read_only.ids["equipment_id"],
            "scopes": ["twin:read"],
        },
    )
    body = {"command": COMMAND, "abort_criteria": {"failed_percent": 50}}
    refused = maker.post(
        "/v1/granted-jobs",
        {**body, "target": {"equipment_ids": [granted[0], read_only.ids["equipment_id"]]}},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"][0]["field"] == "target.equipment_ids"

    created = maker.post(
        "/v1/granted-jobs",
        {**body, "target": {"granted_machines": True}, "rollout": {"machines_per_minute": 2}},
    )

    assert created.status_code == 201, created.text
    job = created.json()
    assert job["machine_count"] == 4
    assert job["requested_by"].endswith(f"@{maker.id}")

    def first_two_started() -> list[dict[str, Any]] | None:
        every = executions(maker, job["id"], "/v1/granted-jobs")
        return every if sum(bool(e["command_id"]) for e in every) == 2 else None

    started = wait_for(first_two_started, timeout_s=30, what="two machines started")
    assert [e["equipment_id"] for e in started if e["command_id"]] == granted[:2]
    # Globex takes its second machine back before the job's turn comes to it.
    customer, grant_id = grants[granted[3]]
    revoked = customer.tenant.post(f"/v1/access-grants/{grant_id}:revoke", {})
    assert revoked.status_code == 200, revoked.text
    stopped = executions(maker, job["id"], "/v1/granted-jobs")[3]
    assert stopped["state"] == "cancelled"
    assert "grant" in stopped["detail"]
    assert commands_on(globex.tenant, granted[3]) == []
    for customer in (acme, globex):
        for equipment_id in fleet(customer):
            # Acme's second machine may have had its turn by now (a minute on).
            for sent in commands_on(customer.tenant, equipment_id):
                assert sent["job_id"] == job["id"]
                assert sent["requested_by"].endswith(f"@{maker.id}")
        assert [c["job_id"] for c in commands_on(customer.tenant, fleet(customer)[0])] == [
            job["id"]
        ]
        # The job is the maker's: a customer sees the commands, not the job.
        assert customer.tenant.get(f"/v1/jobs/{job['id']}").status_code == 404
        assert customer.tenant.get(f"/v1/granted-jobs/{job['id']}").status_code == 404
        assert customer.tenant.get("/v1/jobs").json()["items"] == []
    assert maker.get(f"/v1/jobs/{job['id']}").status_code == 404
    assert [j["id"] for j in maker.get("/v1/granted-jobs").json()["items"]] == [job["id"]]
    cancelled = maker.post(f"/v1/granted-jobs/{job['id']}:cancel", {})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["summary"]["cancelled"] == 4


def test_a_desired_state_job_ends_when_each_machine_applied_the_change(
    platform: RunningPlatform,
) -> None:
    acme = onboard(platform.base_url, "Acme", machines=3)
    machines = fleet(acme)
    applied: list[tuple[str, dict[str, Any]]] = []

    def applier(equipment_id: str) -> Callable[[DesiredState], str | None]:
        def apply(desired: DesiredState) -> str | None:
            applied.append((equipment_id, desired.properties))
            return None

        return apply

    with ExitStack() as stack:
        for equipment_id in machines:
            client = DeviceClient(
                platform.device_link,
                secret_of(acme, equipment_id),
                on_desired=applier(equipment_id),
            )
            stack.callback(client.close)
            client.start()
        created = acme.tenant.post(
            "/v1/jobs",
            {
                "target": {"equipment_model_id": acme.ids["equipment_model_id"]},
                "desired_change": {"desired": {"feed_override": 90}, "timeout_s": 120},
                "rollout": {"machines_per_minute": 600},
                "abort_criteria": {"failed_percent": 50},
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["command"] is None

        job = wait_for(
            lambda: ended(acme.tenant, created.json()["id"]),
            timeout_s=60,
            what="the job's end",
        )

    assert job["state"] == "completed", job
    assert job["summary"]["succeeded"] == 3
    every = executions(acme.tenant, job["id"])
    assert all(e["desired_version"] >= 1 and not e["command_id"] for e in every)
    assert {m for m, properties in applied if properties.get("feed_override") == 90} == set(
        machines
    )
