"""Two gateway replicas on the same Kafka and PostgreSQL: what one replica decides
about a device credential holds on the other's device links too."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud.gateway.v1 import device_link_pb2_grpc as pb_grpc
from tests.support.platform import ImcloudProcess, Ports, RunningPlatform, wait_until_healthy
from tests.support.world import onboard


@pytest.fixture
def second_gateway(
    distributed_platform: RunningPlatform, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    """Another `imcloud serve gateway`: its own ports, the same everything else."""
    ports = Ports()
    env = {
        **distributed_platform.env,
        "IMCLOUD_GATEWAY__HTTP_PORT": str(ports.http),
        "IMCLOUD_GATEWAY_GRPC__BIND": ports.device_link,
        "IMCLOUD_GATEWAY_GRPC__TARGET": ports.device_link,
    }
    process = ImcloudProcess("serve", "gateway", env=env, log_path=tmp_path / "gateway-2.log")
    try:
        wait_until_healthy(process, ports.base_url, timeout_s=60)
        yield ports.base_url, ports.device_link
    finally:
        process.stop()


def test_a_revocation_on_one_replica_closes_the_idle_stream_on_the_other(
    distributed_platform: RunningPlatform, second_gateway: tuple[str, str]
) -> None:
    _, other_link = second_gateway
    world = onboard(distributed_platform.base_url, "Replicas", machines=1)
    machine = world.ids["equipment_id"]
    held = threading.Event()

    def idle() -> Iterator[pb.ConnectRequest]:
        held.wait(60)
        yield from ()

    with grpc.insecure_channel(other_link) as channel:
        call = pb_grpc.DeviceLinkServiceStub(channel).Connect(
            idle(),
            metadata=[("authorization", f"Bearer {world.device_secrets[machine]}")],
            timeout=60,
        )
        try:
            call.initial_metadata()
            revoked = world.tenant.post(
                f"/v1/equipment/{machine}/credentials/{world.ids['credential_id']}:revoke", {}
            )
            assert revoked.status_code == 200, revoked.text
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as ended:
                list(call)
            assert ended.value.code() is grpc.StatusCode.UNAUTHENTICATED
            assert time.monotonic() - started < 20
        finally:
            held.set()
    assert httpx.get(f"{distributed_platform.base_url}/readyz").status_code == 200
