"""Telemetry end to end on the distributed platform (real Kafka and PostgreSQL):
every point stored exactly once, through crashes and resends; device credentials
speak only for their machine and stop working when revoked or rotated."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

import grpc
import numpy as np
import pytest

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud.gateway.v1 import device_link_pb2_grpc as pb_grpc
from imcloud.products.v1 import telemetry_pb2
from imcloud_device import DeviceClient
from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for

MACHINES = 50
SIGNALS = [f"signal_{i}" for i in range(10)]
ROWS = 300  # per machine: 50 x 10 x 300 = 150,000 points


def onboard_fleet(base_url: str, machines: int) -> tuple[Tenant, list[dict[str, str]]]:
    tenant = sign_up(base_url, f"Fleet {uuid.uuid4().hex[:6]}")
    model = tenant.post(
        "/v1/equipment-models", {"name": "Press", "signals": [{"name": s} for s in SIGNALS]}
    ).json()
    fleet = []
    for number in range(machines):
        machine = tenant.post(
            "/v1/equipment", {"equipment_model_id": model["id"], "serial_number": f"P{number}"}
        ).json()
        credential = tenant.post(f"/v1/equipment/{machine['id']}/credentials", {}).json()
        fleet.append(
            {
                "id": machine["id"],
                "credential": credential["secret"],
                "credential_id": credential["id"],
            }
        )
    return tenant, fleet


def rows_for(machine: int, start_ms: int) -> tuple[list[int], np.ndarray]:
    rng = np.random.default_rng(machine)
    stamps = [start_ms + 1000 * row for row in range(ROWS)]
    return stamps, rng.normal(50, 5, (ROWS, len(SIGNALS)))


def send_rows(client: DeviceClient, stamps: list[int], values: np.ndarray, rows: range) -> None:
    for row in rows:
        client.record_snapshot(dict(zip(SIGNALS, values[row].tolist(), strict=True)), stamps[row])


def stored_points(tenant: Tenant, machine_id: str, start_ms: int) -> int:
    counted, token = 0, ""
    window = {
        "start": datetime.fromtimestamp(start_ms / 1000, UTC).isoformat(),
        "end": datetime.fromtimestamp((start_ms + ROWS * 1000) / 1000, UTC).isoformat(),
    }
    while True:
        page = tenant.get(
            f"/v1/equipment/{machine_id}/telemetry",
            page_size=10_000,
            page_token=token,
            signal=SIGNALS,
            **window,
        ).json()
        counted += sum(len(s["timestamps_ms"]) for s in page["series"])
        token = page["next_page_token"]
        if not token:
            return counted


@pytest.mark.timeout(600)
def test_every_point_is_stored_exactly_once_through_a_crash_and_resends(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    link = distributed_platform.device_link
    tenant, fleet = onboard_fleet(base, MACHINES)
    start_ms = (int(time.time()) - 2 * 3600) * 1000
    data = [rows_for(number, start_ms) for number in range(MACHINES)]
    clients = [DeviceClient(link, m["credential"], max_batch_points=500).start() for m in fleet]
    try:
        for client, (stamps, values) in zip(clients, data, strict=True):
            send_rows(client, stamps, values, range(ROWS // 2))
        # The products service dies while the first half is still on its way.
        distributed_platform.kill_and_restart("products")
        for client, (stamps, values) in zip(clients, data, strict=True):
            send_rows(client, stamps, values, range(ROWS // 2, ROWS))
        for client in clients:
            assert client.flush(timeout_s=120), client.stats()
        sent = sum(c.stats().points_accepted for c in clients)
    finally:
        for client in clients:
            client.close()
    expected = MACHINES * ROWS * len(SIGNALS)
    assert sent == expected

    def all_stored() -> bool:
        return sum(stored_points(tenant, m["id"], start_ms) for m in fleet) == expected

    wait_for(all_stored, timeout_s=180, interval_s=2, what=f"{expected} points queryable")

    # Machines resend everything (new sequence ids, as after a device restart).
    for number in range(3):
        with DeviceClient(link, fleet[number]["credential"]) as client:
            send_rows(client, *data[number], range(ROWS))
            assert client.flush(timeout_s=60)
    time.sleep(3)  # give the resends every chance to be (wrongly) stored
    assert sum(stored_points(tenant, m["id"], start_ms) for m in fleet) == expected


def test_a_credential_speaks_only_for_its_own_machine(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    link = distributed_platform.device_link
    tenant, (first, second) = onboard_fleet(base, 2)
    now = int(time.time() * 1000)
    with DeviceClient(link, first["credential"]) as client:
        client.record_snapshot(dict.fromkeys(SIGNALS, 7.0), now)
        assert client.flush(timeout_s=30)
    wait_for(
        lambda: tenant.get(f"/v1/equipment/{first['id']}/twin").json()["reported"],
        timeout_s=30,
        what="the first machine's twin",
    )
    assert tenant.get(f"/v1/equipment/{second['id']}/twin").json()["reported"] == []


def test_revoking_a_credential_closes_its_open_stream(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    link = distributed_platform.device_link
    tenant, (machine,) = onboard_fleet(base, 1)
    errors: list[object] = []
    client = DeviceClient(link, machine["credential"], on_error=errors.append).start()
    stop = threading.Event()

    def keep_sending() -> None:
        while not stop.wait(0.05):
            client.record_snapshot(dict.fromkeys(SIGNALS, 1.0))

    sender = threading.Thread(target=keep_sending, daemon=True)
    sender.start()
    try:
        wait_for(lambda: client.stats().points_accepted > 0, timeout_s=30, what="data flowing")
        revoked = tenant.post(
            f"/v1/equipment/{machine['id']}/credentials/{machine['credential_id']}:revoke", {}
        )
        assert revoked.status_code == 200
        wait_for(lambda: client.stats().stopped, timeout_s=15, what="the stream closed")
        assert "revoked" in (client.stats().fatal_error or "")
    finally:
        stop.set()
        client.close()


def test_a_rotated_credential_s_old_secret_is_refused(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    link = distributed_platform.device_link
    tenant, (machine,) = onboard_fleet(base, 1)
    rotated = tenant.post(
        f"/v1/equipment/{machine['id']}/credentials/{machine['credential_id']}:rotate", {}
    ).json()
    batch = pb.ConnectRequest(
        telemetry=telemetry_pb2.TelemetryBatch(
            sequence_id=1,
            series=[
                telemetry_pb2.SignalSeries(
                    signal=SIGNALS[0], timestamps_ms=[int(time.time() * 1000)], values=[1.0]
                )
            ],
        )
    )
    with grpc.insecure_channel(link) as channel:
        stub = pb_grpc.DeviceLinkServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            list(
                stub.Connect(
                    iter([batch]), metadata=[("authorization", f"Bearer {machine['credential']}")]
                )
            )
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        (answer,) = list(
            stub.Connect(iter([batch]), metadata=[("authorization", f"Bearer {rotated['secret']}")])
        )
        assert answer.ack.accepted_points == 1
