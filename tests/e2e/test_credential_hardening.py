"""Credentials end when they should: tokens with the secret they came from, everything
of a tenant that left; and refusals tell the caller what went wrong, not who is here."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import httpx

from imcloud.gateway.v1 import device_link_pb2 as pb
from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform
from tests.support.world import World, onboard

CONNECT = "/imcloud.gateway.v1.DeviceLinkService/Connect"


def telemetry(sequence_id: int) -> dict[str, object]:
    now_ms = int(time.time() * 1000)
    return {
        "sequence_id": sequence_id,
        "series": [{"signal": "spindle_speed", "timestamps_ms": [now_ms], "values": [1000.0]}],
    }


def send_over_http(base: str, secret: str, sequence_id: int) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/device/telemetry",
        headers={"Authorization": f"Bearer {secret}"},
        json=telemetry(sequence_id),
        timeout=10,
    )


def batch(sequence_id: int) -> pb.ConnectRequest:
    message = pb.ConnectRequest()
    message.telemetry.sequence_id = sequence_id
    series = message.telemetry.series.add(signal="spindle_speed")
    series.timestamps_ms.append(int(time.time() * 1000))
    series.values.append(1000.0)
    return message


def connect(channel: grpc.Channel, secret: str, messages: Iterator[pb.ConnectRequest]) -> Any:
    return channel.stream_stream(
        CONNECT,
        request_serializer=pb.ConnectRequest.SerializeToString,
        response_deserializer=pb.ConnectResponse.FromString,
    )(messages, metadata=[("authorization", f"Bearer {secret}")])


def send_over_device_link(address: str, secret: str, sequence_id: int) -> grpc.StatusCode:
    """OK once the gateway acknowledges one batch, else the status it ended the stream with."""
    with grpc.insecure_channel(address) as channel:
        answers = connect(channel, secret, iter([batch(sequence_id)]))
        try:
            for answer in answers:
                if answer.HasField("ack"):
                    return grpc.StatusCode.OK
        except grpc.RpcError as error:
            return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.UNKNOWN


def test_a_token_dies_with_the_secret_it_was_minted_from(
    embedded_platform: RunningPlatform,
) -> None:
    base = embedded_platform.base_url
    acme = sign_up(base, f"Acme {uuid.uuid4().hex[:6]}")
    issued = acme.post("/v1/api-keys", {"name": "ci", "role": "admin"}).json()
    token = Tenant(base, issued["secret"], acme.id).post("/v1/tokens", {}).json()["access_token"]
    with_token = Tenant(base, token, acme.id)
    assert with_token.get("/v1/plants").status_code == 200

    rotated = acme.post(f"/v1/api-keys/{issued['id']}:rotate", {})
    assert rotated.status_code == 200
    refused = with_token.get("/v1/plants")
    assert refused.status_code == 401
    assert "rotated" in refused.json()["error"]["message"]
    assert with_token.post("/v1/api-keys", {"name": "after", "role": "admin"}).status_code == 401

    fresh = Tenant(base, rotated.json()["secret"], acme.id).post("/v1/tokens", {})
    assert fresh.status_code == 201
    assert Tenant(base, fresh.json()["access_token"], acme.id).get("/v1/plants").status_code == 200


def test_only_an_api_key_mints_tokens(embedded_platform: RunningPlatform) -> None:
    base = embedded_platform.base_url
    acme = sign_up(base, f"Acme {uuid.uuid4().hex[:6]}")
    token = acme.post("/v1/tokens", {}).json()["access_token"]
    renewed = Tenant(base, token, acme.id).post("/v1/tokens", {})
    assert renewed.status_code == 403, renewed.text
    assert "API key" in renewed.json()["error"]["message"]


def test_an_offboarded_customer_stops_everywhere_at_once(
    embedded_platform: RunningPlatform,
) -> None:
    base = embedded_platform.base_url
    customer = onboard(base, "Leaving", machines=1)
    machine = customer.ids["equipment_id"]
    secret = customer.device_secrets[machine]
    maker = sign_up(base, f"Maker {uuid.uuid4().hex[:6]}", kind="oem")
    granted = customer.tenant.post(
        "/v1/access-grants",
        {"grantee_tenant_id": maker.id, "equipment_id": machine, "scopes": ["twin:read"]},
    )
    assert granted.status_code == 201, granted.text
    token = Tenant(base, customer.tenant.post("/v1/tokens", {}).json()["access_token"], "")
    viewer = customer.tenant.post("/v1/api-keys", {"name": "v", "role": "viewer"}).json()
    assert send_over_http(base, secret, 1).status_code == 200
    assert send_over_device_link(embedded_platform.device_link, secret, 2) is grpc.StatusCode.OK
    assert maker.get(f"/v1/granted-equipment/{machine}").status_code == 200

    assert customer.tenant.http.delete("/v1/tenant").status_code == 204

    assert customer.tenant.get("/v1/plants").status_code == 401
    assert Tenant(base, viewer["secret"], "").get("/v1/plants").status_code == 401
    assert token.get("/v1/plants").status_code == 401
    assert send_over_http(base, secret, 3).status_code == 401
    assert (
        send_over_device_link(embedded_platform.device_link, secret, 4)
        is grpc.StatusCode.UNAUTHENTICATED
    )
    assert maker.get(f"/v1/granted-equipment/{machine}").status_code == 404
    assert maker.get("/v1/granted-equipment").json()["items"] == []


def test_offboarding_ends_the_open_device_link_streams_at_once(
    embedded_platform: RunningPlatform,
) -> None:
    base = embedded_platform.base_url
    customer = onboard(base, "Streaming", machines=1)
    secret = customer.device_secrets[customer.ids["equipment_id"]]
    held = threading.Event()

    def one_batch_then_silence() -> Iterator[pb.ConnectRequest]:
        yield batch(1)
        held.wait(30)

    with grpc.insecure_channel(embedded_platform.device_link) as channel:
        answers = connect(channel, secret, one_batch_then_silence())
        assert next(answers).HasField("ack")
        # A silent machine sends nothing that would make the gateway look again.
        watchdog = threading.Timer(15, answers.cancel)
        watchdog.start()
        try:
            assert customer.tenant.http.delete("/v1/tenant").status_code == 204
            started = time.monotonic()
            try:
                for _ in answers:
                    pass
            except grpc.RpcError:
                pass
            assert time.monotonic() - started < 5, "the stream outlived the tenant"
        finally:
            watchdog.cancel()
            held.set()


def test_an_offboarded_maker_loses_the_grants_it_received(
    embedded_platform: RunningPlatform,
) -> None:
    base = embedded_platform.base_url
    customer: World = onboard(base, "Customer", machines=1)
    maker = sign_up(base, f"Maker {uuid.uuid4().hex[:6]}", kind="oem")
    granted = customer.tenant.post(
        "/v1/access-grants",
        {
            "grantee_tenant_id": maker.id,
            "equipment_id": customer.ids["equipment_id"],
            "scopes": ["twin:read"],
        },
    )
    assert granted.status_code == 201, granted.text
    assert maker.http.delete("/v1/tenant").status_code == 204
    given = customer.tenant.get("/v1/access-grants").json()["items"]
    assert [(g["id"], g["active"]) for g in given] == [(granted.json()["id"], False)]
    assert given[0]["revoke_time"] is not None


def test_sign_up_does_not_tell_which_names_are_taken(
    embedded_platform: RunningPlatform,
) -> None:
    base = embedded_platform.base_url
    name = f"Famous Works {uuid.uuid4().hex[:6]}"
    first = httpx.post(f"{base}/v1/tenants", json={"name": name}, timeout=10)
    second = httpx.post(f"{base}/v1/tenants", json={"name": name}, timeout=10)
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert first.json()["tenant"]["id"] != second.json()["tenant"]["id"]


def test_a_device_credential_on_the_rest_api_is_told_where_it_belongs(
    embedded_platform: RunningPlatform,
) -> None:
    base = embedded_platform.base_url
    world = onboard(base, "Confused", machines=1)
    secret = world.device_secrets[world.ids["equipment_id"]]
    answer = httpx.get(
        f"{base}/v1/plants", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert answer.status_code == 401
    message = answer.json()["error"]["message"]
    assert "device credential" in message, message
    assert "use an API key" in message, message
