"""Commands down the device link, results back up (the platform does not send
commands yet; the fake link does)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from google.protobuf import timestamp_pb2

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud_device import Command, CommandOutcome
from tests.support.waiting import wait_for
from tests.unit.sdk.conftest import MakeClient
from tests.unit.sdk.fake_link import FakeDeviceLink, FakeServer


def command(
    command_id: str, name: str, expire_in_s: float | None = None, **params: Any
) -> pb.Command:
    message = pb.Command(command_id=command_id, name=name, parameters_json=json.dumps(params))
    if expire_in_s is not None:
        message.expire_time.CopyFrom(
            timestamp_pb2.Timestamp(seconds=int(time.time() + expire_in_s))
        )
    return message


def results_by_id(link: FakeDeviceLink, count: int) -> dict[str, pb.CommandResult]:
    wait_for(lambda: len(link.results) >= count, timeout_s=10, what=f"{count} command results")
    return {r.command_id: r for r in link.results}


def test_commands_run_in_order_and_their_results_go_back(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    link.commands_on_connect = [
        command("c1", "set_speed", rpm=1200),
        command("c2", "self_destruct"),
        command("c3", "explode"),
    ]
    seen: list[Command] = []

    def on_command(received: Command) -> tuple[CommandOutcome, str]:
        seen.append(received)
        if received.name == "explode":
            raise RuntimeError("boom")
        if received.name != "set_speed":
            return CommandOutcome.REJECTED, f"unknown command {received.name}"
        return CommandOutcome.SUCCEEDED, f"speed set to {received.parameters['rpm']:.0f}"

    client = make_client(server.target, on_command=on_command).start()
    results = results_by_id(link, 3)

    assert [c.command_id for c in seen] == ["c1", "c2", "c3"]
    assert seen[0].parameters == {"rpm": 1200.0}
    assert seen[0].expire_time is None
    assert results["c1"].outcome == pb.COMMAND_OUTCOME_SUCCEEDED
    assert results["c1"].detail == "speed set to 1200"
    assert results["c2"].outcome == pb.COMMAND_OUTCOME_REJECTED
    assert results["c3"].outcome == pb.COMMAND_OUTCOME_FAILED
    assert results["c3"].detail == "RuntimeError: boom"
    assert client.stats().commands_received == 3


def test_expired_commands_are_rejected_without_running_them(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    link.commands_on_connect = [command("old", "stop", expire_in_s=-60)]
    ran: list[Command] = []

    def stop(received: Command) -> tuple[CommandOutcome, str]:
        ran.append(received)
        return CommandOutcome.SUCCEEDED, ""

    make_client(server.target, on_command=stop).start()
    result = results_by_id(link, 1)["old"]
    assert result.outcome == pb.COMMAND_OUTCOME_REJECTED
    assert "expired" in result.detail
    assert not ran


def test_a_device_without_a_command_handler_rejects_commands(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    link.commands_on_connect = [command("c1", "stop")]
    make_client(server.target).start()
    result = results_by_id(link, 1)["c1"]
    assert result.outcome == pb.COMMAND_OUTCOME_REJECTED


def test_a_command_delivered_twice_runs_once_and_is_answered_twice(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    link.commands_on_connect = [command("c1", "stop"), command("c1", "stop")]
    runs: list[str] = []

    def stop(received: Command) -> tuple[CommandOutcome, str]:
        runs.append(received.command_id)
        return CommandOutcome.SUCCEEDED, "ok"

    make_client(server.target, on_command=stop).start()
    wait_for(lambda: len(link.results) >= 2, timeout_s=10, what="two results")
    assert runs == ["c1"]
    assert [r.outcome for r in link.results] == [pb.COMMAND_OUTCOME_SUCCEEDED] * 2


def test_a_slow_command_does_not_hold_up_telemetry(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    link.commands_on_connect = [command("slow", "calibrate")]
    release = threading.Event()

    def calibrate(_: Command) -> tuple[CommandOutcome, str]:
        release.wait(10)
        return CommandOutcome.SUCCEEDED, "calibrated"

    client = make_client(server.target, on_command=calibrate).start()
    client.record("speed", 1.0, 1_760_000_000_000)
    assert client.flush(timeout_s=10)  # acknowledged while the command still runs
    assert not link.results
    release.set()
    assert results_by_id(link, 1)["slow"].detail == "calibrated"


def test_integer_parameters_stay_integers() -> None:
    received = Command.from_message(command("c1", "move", steps=3, rpm=1200.5, plan={"n": [1]}))
    assert received.parameters == {"steps": 3, "rpm": 1200.5, "plan": {"n": [1]}}
    assert type(received.parameters["steps"]) is int
    assert type(received.parameters["plan"]["n"][0]) is int


def replies(link: FakeDeviceLink, command_id: str) -> list[str]:
    """What came up the link about one command, in order: "receipt" or "result"."""
    return [
        "receipt" if isinstance(reply, pb.CommandReceipt) else "result"
        for reply in list(link.command_replies)
        if reply.command_id == command_id
    ]


def test_a_command_is_confirmed_on_arrival_before_it_runs(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    link.commands_on_connect = [command("c1", "calibrate")]
    running = threading.Event()
    release = threading.Event()

    def calibrate(_: Command) -> tuple[CommandOutcome, str]:
        running.set()
        release.wait(10)
        return CommandOutcome.SUCCEEDED, "calibrated"

    make_client(server.target, on_command=calibrate).start()
    assert running.wait(10)
    wait_for(lambda: replies(link, "c1") == ["receipt"] or None, timeout_s=10, what="a receipt")
    release.set()
    wait_for(lambda: replies(link, "c1") == ["receipt", "result"] or None, timeout_s=10)


def test_a_repeat_while_the_command_runs_is_confirmed_but_not_run_again(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    link.commands_on_connect = [command("c1", "calibrate")]
    release = threading.Event()
    runs: list[str] = []

    def calibrate(received: Command) -> tuple[CommandOutcome, str]:
        runs.append(received.command_id)
        release.wait(10)
        return CommandOutcome.SUCCEEDED, "calibrated"

    make_client(server.target, on_command=calibrate).start()
    wait_for(lambda: runs or None, timeout_s=10, what="the command running")
    link.streams[0].outbox.put(pb.ConnectResponse(command=command("c1", "calibrate")))
    wait_for(lambda: replies(link, "c1").count("receipt") == 2 or None, timeout_s=10)
    release.set()
    wait_for(lambda: "result" in replies(link, "c1") or None, timeout_s=10)
    assert runs == ["c1"]


def test_a_cancelled_command_that_has_not_started_never_runs(
    server: FakeServer, link: FakeDeviceLink, make_client: MakeClient
) -> None:
    # c2 waits behind c1; the cancellation of c3 comes before c3 itself.
    link.commands_on_connect = [command("c1", "calibrate"), command("c2", "stop")]
    release = threading.Event()
    runs: list[str] = []

    def handler(received: Command) -> tuple[CommandOutcome, str]:
        runs.append(received.command_id)
        if received.command_id == "c1":
            release.wait(10)
        return CommandOutcome.SUCCEEDED, "ok"

    make_client(server.target, on_command=handler).start()
    wait_for(lambda: runs or None, timeout_s=10, what="c1 running")
    stream = link.streams[0]
    for cancelled in ("c2", "c3"):
        stream.outbox.put(
            pb.ConnectResponse(command_cancellation=pb.CommandCancellation(command_id=cancelled))
        )
    stream.outbox.put(pb.ConnectResponse(command=command("c3", "stop")))
    stream.outbox.put(pb.ConnectResponse(command=command("c4", "stop")))
    # Messages are taken in order: c4's receipt means the cancellations are in.
    wait_for(lambda: replies(link, "c4") or None, timeout_s=10, what="c4's receipt")
    release.set()
    wait_for(lambda: "result" in replies(link, "c4") or None, timeout_s=10, what="c4's result")
    assert runs == ["c1", "c4"]
    assert replies(link, "c2") == ["receipt"]
    assert replies(link, "c3") == []
