"""Device-link streams are bounded: one per credential (the newest wins) and
`max_device_streams` per gateway, refused at once beyond it, while health checks
still answer and /readyz says the device link is full."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud.gateway.v1 import device_link_pb2_grpc as pb_grpc
from tests.support.platform import embedded
from tests.support.world import onboard

MAX_STREAMS = 3


def open_stream(target: str, secret: str, held: threading.Event) -> tuple[grpc.Channel, Any]:
    channel = grpc.insecure_channel(target)

    def idle() -> Iterator[pb.ConnectRequest]:
        held.wait(20)
        yield from ()

    call = pb_grpc.DeviceLinkServiceStub(channel).Connect(
        idle(), metadata=[("authorization", f"Bearer {secret}")], timeout=20
    )
    return channel, call


def ending(call: Any) -> grpc.RpcError:
    try:
        for _ in call:
            pass
    except grpc.RpcError as error:
        return error
    raise AssertionError("the stream ended without a status")


def wait_open(call: Any) -> None:
    """Returns once the gateway took the stream (it answers with initial metadata)."""
    call.initial_metadata()


def test_streams_are_bounded_per_credential_and_per_gateway(tmp_path: Path) -> None:
    held = threading.Event()
    with embedded(tmp_path, IMCLOUD_GATEWAY__MAX_DEVICE_STREAMS=str(MAX_STREAMS)) as platform:
        world = onboard(platform.base_url, "Streams", machines=1)
        machine = world.ids["equipment_id"]
        secrets = [world.device_secrets[machine]]
        for _ in range(MAX_STREAMS):
            response = world.tenant.post(f"/v1/equipment/{machine}/credentials", {})
            assert response.status_code == 201, response.text
            secrets.append(response.json()["secret"])
        link = platform.device_link
        opened = []
        try:
            first = open_stream(link, secrets[0], held)
            opened.append(first)
            wait_open(first[1])
            second = open_stream(link, secrets[0], held)
            opened.append(second)
            replaced = ending(first[1])
            assert replaced.code() is grpc.StatusCode.FAILED_PRECONDITION
            assert "replaced" in (replaced.details() or "")

            for secret in secrets[1:MAX_STREAMS]:
                opened.append(open_stream(link, secret, held))
            for _, call in opened[1:]:
                wait_open(call)
            ready = httpx.get(f"{platform.base_url}/readyz")
            assert ready.status_code == 503, ready.text
            assert "device_link" in ready.json()["failing"]

            started = time.monotonic()
            over = open_stream(link, secrets[MAX_STREAMS], held)
            opened.append(over)
            refused = ending(over[1])
            assert refused.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert time.monotonic() - started < 5

            with grpc.insecure_channel(link) as channel:
                checked = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=3
                )
            assert checked.status == health_pb2.HealthCheckResponse.SERVING
        finally:
            held.set()
            for channel, call in opened:
                call.cancel()
                channel.close()
        deadline = time.monotonic() + 10
        while httpx.get(f"{platform.base_url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the device link stayed full"
            time.sleep(0.2)
