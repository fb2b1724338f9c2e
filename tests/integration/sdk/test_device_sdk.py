"""The device SDK against the real platform: what it sends is stored exactly once,
the twin shows the latest values, and a revoked credential stops it."""

from __future__ import annotations

import math
import time

from imcloud_device import AuthenticationError, DeviceClient, DeviceLinkError
from tests.integration.sdk.telemetry import count, stored_points
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for
from tests.support.world import SIGNALS as MODEL_SIGNALS
from tests.support.world import onboard

POINTS_PER_SIGNAL = 1500
# The signals of the equipment model onboard() creates.
SIGNALS = tuple(str(signal["name"]) for signal in MODEL_SIGNALS)


def test_every_point_sent_is_stored_once_and_the_twin_shows_the_latest(
    embedded_platform: RunningPlatform,
) -> None:
    world = onboard(embedded_platform.base_url, "SDK maker", machines=1)
    equipment_id = world.ids["equipment_id"]
    base = time.time_ns() // 1_000_000 - 10 * 60_000
    stamps = [base + 100 * i for i in range(POINTS_PER_SIGNAL)]
    speeds = [float(10 * i) for i in range(POINTS_PER_SIGNAL)]
    temperatures = [20.0 + i / 100 for i in range(POINTS_PER_SIGNAL)]

    with DeviceClient(
        embedded_platform.device_link, world.device_secrets[equipment_id], max_batch_points=400
    ) as client:
        client.record_many("spindle_speed", stamps, speeds)
        for stamp, temperature in zip(stamps, temperatures, strict=True):
            client.record_snapshot(
                {"spindle_temperature": temperature, "door_open": stamp % 200 == 0}, stamp
            )
        client.record_many("spindle_temperature", [base - 2, base - 1], [400.0, -50.0])  # flagged
        client.record_many("spindle_speed", [base - 2, base - 1], [math.nan, math.inf])  # refused
        assert client.flush(timeout_s=60)
        stats = client.stats()

    sent = 3 * POINTS_PER_SIGNAL + 2
    assert stats.points_recorded == sent + 2
    assert stats.points_accepted == sent
    assert stats.points_flagged == 2
    assert stats.refused_by_reason == {"not_finite": 2}
    assert stats.points_dropped == stats.points_buffered == 0

    tenant = world.tenant

    def all_stored() -> dict[str, dict[int, float]] | None:
        points = stored_points(tenant, equipment_id, SIGNALS)
        return points if count(points) == sent else None

    points = wait_for(all_stored, timeout_s=60, interval_s=0.5, what=f"{sent} stored points")
    assert points["spindle_speed"] == dict(zip(stamps, speeds, strict=True))
    assert points["spindle_temperature"] == {
        base - 2: 400.0,
        base - 1: -50.0,
        **dict(zip(stamps, temperatures, strict=True)),
    }
    assert sum(points["door_open"].values()) == sum(1 for s in stamps if s % 200 == 0)

    twin = tenant.get(f"/v1/equipment/{equipment_id}/twin").json()
    latest = {r["signal"]: r["value"] for r in twin["reported"]}
    assert latest["spindle_speed"] == speeds[-1]
    assert latest["spindle_temperature"] == temperatures[-1]
    assert twin["last_seen_time"] is not None


def test_a_revoked_credential_stops_the_client(embedded_platform: RunningPlatform) -> None:
    world = onboard(embedded_platform.base_url, "SDK revoked", machines=1)
    equipment_id = world.ids["equipment_id"]
    errors: list[DeviceLinkError] = []
    client = DeviceClient(
        embedded_platform.device_link,
        world.device_secrets[equipment_id],
        on_error=errors.append,
        reconnect_backoff_s=(0.1, 1.0),
    ).start()
    try:
        client.record("spindle_speed", 1000.0)
        assert client.flush(timeout_s=30)
        assert client.stats().connected

        response = world.tenant.post(
            f"/v1/equipment/{equipment_id}/credentials/{world.ids['credential_id']}:revoke", {}
        )
        assert response.status_code == 200, response.text

        wait_for(lambda: client.stopped, timeout_s=30, what="the client to stop")
        assert isinstance(errors[-1], AuthenticationError)
        stats = client.stats()
        assert stats.fatal_error is not None
        assert "UNAUTHENTICATED" in stats.fatal_error
        assert not stats.connected
        client.record("spindle_speed", 2000.0)  # the machine's loop is never broken
        assert not client.flush(timeout_s=1)
    finally:
        client.close(0)
