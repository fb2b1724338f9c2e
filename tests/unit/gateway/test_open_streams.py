"""The device link's streams: what goes down a machine's stream, and in which order."""

from __future__ import annotations

import queue
from unittest import mock

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud_gateway.api.device_link import DeviceStream, OpenStreams
from imcloud_gateway.domain.model import DevicePrincipal


def command(command_id: str) -> pb.ConnectResponse:
    return pb.ConnectResponse(command=pb.Command(command_id=command_id, name="set_speed"))


def drained(stream: DeviceStream) -> list[str]:
    sent: list[str] = []
    while True:
        try:
            item = stream.outgoing.get_nowait()
        except queue.Empty:
            return sent
        assert isinstance(item, pb.ConnectResponse)
        sent.append(item.command.command_id)


def connected(streams: OpenStreams) -> DeviceStream:
    stream = DeviceStream(DevicePrincipal("t1", "m1", "c1"), mock.Mock(), queue.Queue())
    streams.add(stream)
    return stream


def test_a_command_from_the_topic_during_the_waiting_list_follows_it_once() -> None:
    streams = OpenStreams(capacity=4)
    stream = connected(streams)
    # The newest command arrives on the topic while the waiting list is being read,
    # and is also on that list.
    assert streams.push("m1", command("c3"))
    for waiting in ("c1", "c2", "c3"):
        assert streams.push("m1", command(waiting), waiting=True)
    assert drained(stream) == ["c1", "c2"]
    streams.caught_up(stream)
    assert drained(stream) == ["c3"]


def test_after_the_waiting_list_commands_go_down_at_once_and_never_twice() -> None:
    streams = OpenStreams(capacity=4)
    stream = connected(streams)
    streams.caught_up(stream)
    streams.push("m1", command("c1"))
    streams.push("m1", command("c1"))
    assert drained(stream) == ["c1"]


def test_a_resend_of_a_command_goes_down_again_each_send_once() -> None:
    streams = OpenStreams(capacity=4)
    stream = connected(streams)
    streams.caught_up(stream)
    streams.push("m1", command("c1"), attempt=1)
    streams.push("m1", command("c1"), attempt=1, waiting=True)  # also on the waiting list
    streams.push("m1", command("c1"), attempt=2)  # no receipt came: sent again
    assert drained(stream) == ["c1", "c1"]


def test_a_machine_not_connected_here_is_reported_so() -> None:
    streams = OpenStreams(capacity=4)
    connected(streams)
    assert not streams.push("m2", command("c1"))
