"""DeviceClient against a fake device link: a real gRPC server in the test."""

from __future__ import annotations

import math
import time

import pytest

from imcloud_device import AuthenticationError, DeviceClient, DeviceLinkError
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tests.unit.sdk.conftest import MakeClient
from tests.unit.sdk.fake_link import Decision, FakeDeviceLink, FakeServer

T0 = 1_760_000_000_000  # a fixed start time (ms); the fake link checks no window


def series_points(link: FakeDeviceLink) -> int:
    return sum(len(s.values) for b in link.batches() for s in b.series)


def test_points_go_out_in_batches_with_increasing_sequence_ids(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    client = make_client(server.target, max_batch_points=1000).start()
    client.record_many("spindle_speed", range(T0, T0 + 2500), [float(i) for i in range(2500)])
    for i in range(10):
        client.record_snapshot({"temperature": 20.0 + i, "door_open": True}, T0 + i)
    client.record("pressure", 3, timestamp_ms=T0)

    assert client.flush(timeout_s=10)

    batches = link.batches()
    ids = [b.sequence_id for b in batches]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert all(sum(len(s.values) for s in b.series) <= 1000 for b in batches)
    assert series_points(link) == 2500 + 21
    # Each batch holds one series per signal, points in recording order.
    for batch in batches:
        names = [s.signal for s in batch.series]
        assert len(names) == len(set(names))
    speed = [v for b in batches for s in b.series if s.signal == "spindle_speed" for v in s.values]
    assert speed == [float(i) for i in range(2500)]
    door = [v for b in batches for s in b.series if s.signal == "door_open" for v in s.values]
    assert door == [1.0] * 10
    stats = client.stats()
    assert stats.points_recorded == stats.points_sent == stats.points_accepted == 2521
    assert stats.batches_acked == stats.batches_sent == len(batches)
    assert stats.points_buffered == 0
    assert stats.connected


def test_sequence_ids_start_from_the_clock_so_restarts_never_repeat_them(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    for _ in range(2):
        client = make_client(server.target).start()
        client.record("speed", 1.0, T0)
        assert client.flush(timeout_s=10)
        client.close()
    first, second = (b.sequence_id for b in link.batches())
    assert second > first > time.time_ns() // 1000 - 60_000_000


def test_a_partial_batch_leaves_after_the_flush_interval(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    client = make_client(server.target, flush_interval_s=0.05).start()
    client.record("speed", 1.0)
    link.wait_for_batches(1, timeout_s=5)
    time.sleep(0.2)  # the sender is idle now, waiting for points
    client.record("speed", 2.0)
    link.wait_for_batches(2, timeout_s=5)
    assert series_points(link) == 2


def test_no_more_than_max_in_flight_batches_wait_for_their_acks(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    link.policy = lambda stream, batch: "hold"
    client = make_client(server.target, max_batch_points=10, max_in_flight_batches=3).start()
    client.record_many("speed", range(T0, T0 + 100), [1.0] * 100)

    link.wait_for_batches(3)
    time.sleep(0.3)
    assert len(link.batches()) == 3
    assert client.stats().points_buffered == 100

    link.policy = lambda stream, batch: "ack"
    link.release_held()
    assert client.flush(timeout_s=10)
    assert len(link.batches()) == 10
    assert client.stats().points_accepted == 100


def test_unacknowledged_batches_are_resent_with_the_same_sequence_ids(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    def policy(stream: int, batch: int) -> Decision:
        if stream > 0:
            return "ack"
        return "ack" if batch < 2 else ("drop" if batch == 4 else "hold")

    link.policy = policy
    client = make_client(server.target, max_batch_points=100, max_in_flight_batches=4)
    client.record_many("speed", range(T0, T0 + 1000), [float(i) for i in range(1000)])
    client.start()

    assert client.flush(timeout_s=10)
    first, second = link.streams[0], link.streams[1]
    unacked = first.batches[2:]
    resent = second.batches[: len(unacked)]
    assert [b.sequence_id for b in resent] == [b.sequence_id for b in unacked]
    assert resent == unacked  # the same points under the same sequence id
    acked = [b.sequence_id for b in first.batches[:2] + second.batches]
    assert acked == list(range(acked[0], acked[0] + 10))
    assert link.points() == {("speed", T0 + i, float(i)) for i in range(1000)}
    stats = client.stats()
    assert stats.points_accepted == stats.points_sent == 1000
    assert stats.batches_acked == 10
    assert stats.batches_resent >= len(unacked)  # and the one in flight when it broke
    assert stats.reconnects == 1
    assert stats.last_error is not None
    assert "UNAVAILABLE" in stats.last_error


def test_points_wait_while_no_platform_listens_and_arrive_once_it_does(
    link: FakeDeviceLink, make_client: MakeClient
) -> None:
    port = free_port()
    errors: list[DeviceLinkError] = []
    client = make_client(f"127.0.0.1:{port}", on_error=errors.append).start()
    for i in range(50):
        client.record("speed", float(i), T0 + i)
    wait_for(lambda: client.stats().reconnects >= 2, timeout_s=10, what="reconnect attempts")
    stats = client.stats()
    assert not stats.connected
    assert stats.points_sent == 0
    assert stats.points_buffered == 50
    assert errors
    assert all(not e.fatal and e.code == "UNAVAILABLE" for e in errors)

    server = FakeServer(link, port=port).start()
    try:
        assert client.flush(timeout_s=10)
        assert link.points() == {("speed", T0 + i, float(i)) for i in range(50)}
        assert client.stats().connected
    finally:
        server.stop()


def test_a_full_buffer_drops_the_oldest_points_and_counts_them(
    link: FakeDeviceLink, make_client: MakeClient
) -> None:
    port = free_port()
    client = make_client(f"127.0.0.1:{port}", buffer_limit_points=100).start()
    for i in range(250):
        client.record("speed", float(i), T0 + i)  # never blocks, never grows past 100
    stats = client.stats()
    assert (stats.points_recorded, stats.points_dropped, stats.points_buffered) == (250, 150, 100)

    server = FakeServer(link, port=port).start()
    try:
        assert client.flush(timeout_s=10)
    finally:
        server.stop()
    assert link.points() == {("speed", T0 + i, float(i)) for i in range(150, 250)}
    assert client.stats().points_accepted == 100


def test_a_refused_credential_stops_the_client_without_retrying(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    errors: list[DeviceLinkError] = []
    client = make_client(server.target, "imd_revoked", on_error=errors.append).start()
    client.record("speed", 1.0, T0)

    wait_for(lambda: client.stopped, timeout_s=10, what="the client to stop")
    assert not client.flush(timeout_s=1)
    time.sleep(0.3)
    assert link.refused_connections == 1
    [error] = errors
    assert isinstance(error, AuthenticationError)
    assert error.fatal
    assert error.code == "UNAUTHENTICATED"
    stats = client.stats()
    assert stats.stopped
    assert not stats.connected
    assert stats.reconnects == 0
    assert stats.last_error is not None
    assert "UNAUTHENTICATED" in stats.last_error


def test_a_credential_revoked_while_streaming_stops_the_client(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    link.policy = lambda stream, batch: "revoke" if batch == 2 else "ack"
    errors: list[DeviceLinkError] = []
    client = make_client(server.target, max_batch_points=10, on_error=errors.append).start()
    client.record_many("speed", range(T0, T0 + 100), [1.0] * 100)

    wait_for(lambda: client.stopped, timeout_s=10, what="the client to stop")
    assert isinstance(errors[-1], AuthenticationError)
    stats = client.stats()
    assert stats.points_accepted == 20
    assert stats.points_buffered == 80  # kept, not sent anywhere
    client.record("speed", 2.0)  # recording after the stop still never raises


def test_refusals_are_counted_by_reason_and_the_last_ones_kept(
    server: FakeServer, make_client: MakeClient
) -> None:
    client = make_client(server.target).start()
    client.record_many("speed", range(T0, T0 + 4), [1.0, math.nan, math.inf, 2.0])
    assert client.flush(timeout_s=10)
    stats = client.stats()
    assert (stats.points_accepted, stats.points_refused) == (2, 2)
    assert stats.refused_by_reason == {"not_finite": 2}
    [refusal] = stats.recent_refusals
    assert (refusal.signal, refusal.reason, refusal.points) == ("speed", "not_finite", 2)


def test_flush_needs_a_started_client_and_close_is_final(make_client: MakeClient) -> None:
    client = make_client(f"127.0.0.1:{free_port()}")
    assert client.flush(timeout_s=0.1)  # nothing recorded: nothing to wait for
    client.record("speed", 1.0)
    with pytest.raises(RuntimeError, match="start"):
        client.flush(timeout_s=0.1)
    client.close(0)
    assert client.stats().stopped
    with pytest.raises(RuntimeError, match="closed"):
        client.start()


def test_bad_arguments_are_refused_at_once() -> None:
    with pytest.raises(ValueError, match="credential"):
        DeviceClient("127.0.0.1:1", "")
    with pytest.raises(ValueError, match="max_batch_points"):
        DeviceClient("127.0.0.1:1", "imd_x", max_batch_points=100_000)
    client = DeviceClient("127.0.0.1:1", "imd_x")
    with pytest.raises(ValueError, match="3 timestamps for 2 values"):
        client.record_many("speed", [1, 2, 3], [1.0, 2.0])
    with pytest.raises(ValueError, match="name"):
        client.record("", 1.0)
    assert "imd_x" not in repr(client)
