"""Two gateway replicas on the same Kafka and PostgreSQL: what one replica decides
about a device credential holds on the other's device links too."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import httpx
import pytest
from kafka.admin import KafkaAdminClient

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud.gateway.v1 import device_link_pb2_grpc as pb_grpc
from tests.support.platform import ImcloudProcess, Ports, RunningPlatform, wait_until_healthy
from tests.support.world import onboard


def replica_env(platform: RunningPlatform, ports: Ports) -> dict[str, str]:
    """Another gateway's settings: its own ports, the same everything else."""
    return {
        **platform.env,
        "IMCLOUD_GATEWAY__HTTP_PORT": str(ports.http),
        "IMCLOUD_GATEWAY__MQTT_PORT": str(ports.mqtt),
        "IMCLOUD_GATEWAY_GRPC__BIND": ports.device_link,
        "IMCLOUD_GATEWAY_GRPC__TARGET": ports.device_link,
    }


@contextmanager
def replica(platform: RunningPlatform, ports: Ports, log_path: Path) -> Iterator[None]:
    process = ImcloudProcess(
        "serve", "gateway", env=replica_env(platform, ports), log_path=log_path
    )
    try:
        wait_until_healthy(process, ports.base_url, timeout_s=60)
        yield
    finally:
        process.stop()


@pytest.fixture
def second_gateway(
    distributed_platform: RunningPlatform, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    ports = Ports()
    with replica(distributed_platform, ports, tmp_path / "gateway-2.log"):
        yield ports.base_url, ports.device_link


def command_groups(platform: RunningPlatform) -> set[str]:
    settings = platform.kafka_settings()
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        prefix = f"{settings.namespace}.gateway.commands"
        return {g["group_id"] for g in admin.list_groups() if g["group_id"].startswith(prefix)}
    finally:
        admin.close()


def test_restarting_a_replica_leaves_no_consumer_group_behind(
    distributed_platform: RunningPlatform, tmp_path: Path
) -> None:
    ports = Ports()
    with replica(distributed_platform, ports, tmp_path / "first.log"):
        pass
    after_one = command_groups(distributed_platform)
    with replica(distributed_platform, ports, tmp_path / "second.log"):
        pass
    assert command_groups(distributed_platform) == after_one


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
