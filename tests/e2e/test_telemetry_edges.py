"""Telemetry bodies at the edge: every number is one the store can hold, and a
batch's acknowledgement counts exactly what was stored and what was refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud.gateway.v1 import device_link_pb2_grpc as pb_grpc
from tests.support.platform import RunningPlatform
from tests.support.world import World, onboard

INT64_END = 2**63


@pytest.fixture(scope="module")
def world(embedded_platform: RunningPlatform) -> World:
    return onboard(embedded_platform.base_url, "Edges", machines=1)


def device_post(platform: RunningPlatform, world: World, body: dict[str, Any]) -> Any:
    secret = world.device_secrets[world.ids["equipment_id"]]
    return world.tenant.http.post(
        f"{platform.base_url}/v1/device/telemetry",
        json=body,
        headers={"Authorization": f"Bearer {secret}"},
    )


def fields_of(response: Any) -> list[str]:
    return [d["field"] for d in response.json()["error"]["details"]]


def batch(sequence_id: int, stamps: list[int], values: list[Any]) -> dict[str, Any]:
    return {
        "sequence_id": sequence_id,
        "series": [{"signal": "spindle_speed", "timestamps_ms": stamps, "values": values}],
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (batch(INT64_END, [0], [1.0]), "sequence_id"),
        (batch(2**64 - 1, [0], [1.0]), "sequence_id"),
        (batch(1, [INT64_END], [1.0]), "series[0].timestamps_ms[0]"),
        (batch(1, [-INT64_END - 1], [1.0]), "series[0].timestamps_ms[0]"),
        (batch(1, [0], [10**400]), "series[0].values[0]"),
    ],
)
def test_numbers_the_store_cannot_hold_are_refused_with_their_field(
    embedded_platform: RunningPlatform, world: World, body: dict[str, Any], field: str
) -> None:
    response = device_post(embedded_platform, world, body)
    assert response.status_code == 422, response.text
    assert field in fields_of(response)


def test_the_largest_sequence_id_the_store_holds_is_accepted(
    embedded_platform: RunningPlatform, world: World
) -> None:
    now = int(time.time() * 1000)
    response = device_post(embedded_platform, world, batch(INT64_END - 1, [now], [1.0]))
    assert response.status_code == 200, response.text
    assert response.json()["accepted_points"] == 1


def connect(platform: RunningPlatform, secret: str, messages: list[pb.ConnectRequest]) -> Any:
    channel = grpc.insecure_channel(platform.device_link)
    stub = pb_grpc.DeviceLinkServiceStub(channel)

    def requests() -> Iterator[pb.ConnectRequest]:
        yield from messages
        time.sleep(5)

    return channel, stub.Connect(
        requests(), metadata=[("authorization", f"Bearer {secret}")], timeout=10
    )


def test_a_sequence_id_past_bigint_is_refused_on_the_grpc_link(
    embedded_platform: RunningPlatform, world: World
) -> None:
    message = pb.ConnectRequest()
    message.telemetry.sequence_id = INT64_END
    series = message.telemetry.series.add(signal="spindle_speed")
    series.timestamps_ms.append(int(time.time() * 1000))
    series.values.append(1.0)
    channel, responses = connect(
        embedded_platform, world.device_secrets[world.ids["equipment_id"]], [message]
    )
    # Before the fix, the batch was acknowledged and the stream ended normally.
    with channel, pytest.raises(grpc.RpcError) as refused:
        list(responses)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "sequence_id" in (refused.value.details() or "")


def test_a_point_repeated_with_another_value_is_counted_refused_over_http_and_grpc(
    embedded_platform: RunningPlatform, world: World
) -> None:
    now = int(time.time() * 1000)
    response = device_post(embedded_platform, world, batch(10, [now, now], [1.0, 2.0]))
    assert response.status_code == 200, response.text
    ack = response.json()
    assert ack["accepted_points"] == 1
    assert [(r["reason"], r["points"]) for r in ack["refusals"]] == [("duplicate_point", 1)]

    message = pb.ConnectRequest()
    message.telemetry.sequence_id = 11
    for value in (1.0, 2.0):
        series = message.telemetry.series.add(signal="spindle_speed")
        series.timestamps_ms.append(now + 1)
        series.values.append(value)
    channel, responses = connect(
        embedded_platform, world.device_secrets[world.ids["equipment_id"]], [message]
    )
    with channel:
        grpc_ack = next(r for r in responses if r.HasField("ack")).ack
    assert grpc_ack.accepted_points == 1
    assert [(r.reason, r.points) for r in grpc_ack.refusals] == [
        (pb.REFUSAL_REASON_DUPLICATE_POINT, 1)
    ]


def test_too_many_buckets_names_bucket_s(embedded_platform: RunningPlatform, world: World) -> None:
    end = datetime.now(UTC)
    response = world.tenant.get(
        f"/v1/equipment/{world.ids['equipment_id']}/telemetry/aggregates",
        start=(end - timedelta(days=365)).isoformat(),
        end=end.isoformat(),
        bucket_s=1,
    )
    assert response.status_code == 422, response.text
    assert fields_of(response) == ["bucket_s"]
