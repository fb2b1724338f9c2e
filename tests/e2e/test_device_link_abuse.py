"""A device link fed garbage: malformed protobuf is refused as such, and the
platform still stops promptly when asked, whatever those streams do."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc

from imcloud.gateway.v1 import device_link_pb2 as pb
from tests.support.platform import embedded
from tests.support.world import onboard

CONNECT = "/imcloud.gateway.v1.DeviceLinkService/Connect"


def valid_message(sequence_id: int) -> bytes:
    message = pb.ConnectRequest()
    message.telemetry.sequence_id = sequence_id
    series = message.telemetry.series.add(signal="spindle_speed")
    series.timestamps_ms.append(int(time.time() * 1000) + sequence_id)
    series.values.append(1000.0)
    return message.SerializeToString()


def mutated_then_held_open(seed: int, held: threading.Event) -> Iterator[bytes]:
    """200 valid messages with a few bytes changed each, then a stream left open."""
    rng = random.Random(seed)
    for number in range(1, 201):
        data = bytearray(valid_message(number))
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        yield bytes(data)
    held.wait(120)


def valid_then_held_open(held: threading.Event) -> Iterator[bytes]:
    yield valid_message(1)
    held.wait(120)


def test_malformed_messages_are_invalid_argument_and_the_platform_still_stops(
    tmp_path: Path,
) -> None:
    held = threading.Event()
    endings: list[str] = []
    with embedded(tmp_path) as platform:
        # A machine and a credential per stream: a credential holds one stream at a time.
        world = onboard(platform.base_url, "Garbage", machines=4)
        secrets = [
            world.tenant.post(f"/v1/equipment/{world.ids[key]}/credentials", {}).json()["secret"]
            for key in ("equipment_id_1", "equipment_id_2", "equipment_id_3")
        ]
        secrets.append(world.device_secrets[world.ids["equipment_id"]])
        channel = grpc.insecure_channel(platform.device_link)
        connect = channel.stream_stream(
            CONNECT, request_serializer=lambda raw: raw, response_deserializer=lambda raw: raw
        )

        def stream(messages: Iterator[bytes], secret: str) -> None:
            try:
                for _ in connect(messages, metadata=[("authorization", f"Bearer {secret}")]):
                    pass
                endings.append("OK")
            except grpc.RpcError as error:
                endings.append(error.code().name)  # type: ignore[attr-defined]

        for seed in range(3):
            garbage = mutated_then_held_open(seed, held)
            threading.Thread(target=stream, args=(garbage, secrets[seed]), daemon=True).start()
        deadline = time.monotonic() + 30
        while len(endings) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert endings == ["INVALID_ARGUMENT"] * 3
        # A well-behaved machine that keeps its stream open while the platform stops.
        well_behaved = valid_then_held_open(held)
        threading.Thread(target=stream, args=(well_behaved, secrets[3]), daemon=True).start()
        time.sleep(1)
        stopping = time.monotonic()
    # Leaving the block stopped the platform, which had to exit with 0.
    held.set()
    assert time.monotonic() - stopping < 30
    channel.close()
