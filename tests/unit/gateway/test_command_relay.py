"""The command relay at the device link: a command sent down is not yet delivered
(only the machine's receipt says so), resends go down as new sends, and a
cancellation reaches the machine."""

from __future__ import annotations

from typing import Any, cast

from google.protobuf.timestamp_pb2 import Timestamp

from imcloud.gateway.v1 import device_link_pb2 as link_pb
from imcloud.servitization.v1 import commands_pb2 as pb
from imcloud_core.bus import EventBus, OutgoingRecord, Record
from imcloud_core.events import Topic, new_envelope, parse_envelope, unpack
from imcloud_gateway.clients.backends import Backends
from imcloud_gateway.domain.model import DevicePrincipal
from imcloud_gateway.events.commands import CommandRelay

DEVICE = DevicePrincipal(tenant_id="t", equipment_id="here", credential_id="c")


class Links:
    def __init__(self) -> None:
        self.pushed: list[tuple[link_pb.ConnectResponse, int]] = []

    def push(
        self,
        equipment_id: str,
        response: link_pb.ConnectResponse,
        *,
        waiting: bool = False,
        attempt: int = 0,
    ) -> bool:
        if equipment_id != "here":
            return False
        self.pushed.append((response, attempt))
        return True


class Bus:
    def __init__(self) -> None:
        self.published: list[OutgoingRecord] = []

    def publish(self, records: list[OutgoingRecord]) -> None:
        self.published.extend(records)


def relay() -> tuple[CommandRelay, Links, Bus]:
    links, bus = Links(), Bus()
    backends = cast(Backends, object())
    return CommandRelay(bus=cast(EventBus, bus), links=links, backends=backends), links, bus


def on_topic(message: Any, event_type: str) -> Record:
    envelope = new_envelope(tenant_id="t", event_type=event_type, payload=message, source="test")
    return Record(Topic.COMMANDS, 0, 0, "here", envelope.SerializeToString())


def requested(command_id: str, attempts: int, equipment_id: str = "here") -> Record:
    expiry = Timestamp()
    expiry.GetCurrentTime()
    expiry.seconds += 300
    command = pb.RemoteCommand(
        id=command_id,
        equipment_id=equipment_id,
        name="set_speed",
        parameters_json='{"steps": 3}',
        attempts=attempts,
        expire_time=expiry,
    )
    return on_topic(pb.CommandRequested(command=command), "command.requested")


def stages(bus: Bus) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for record in bus.published:
        progressed = unpack(parse_envelope(record.value), pb.CommandProgressed)
        assert progressed is not None
        found.append((progressed.command_id, progressed.stage))
    return found


def test_a_command_sent_down_waits_for_the_machines_receipt_to_be_delivered() -> None:
    commands, links, bus = relay()
    commands.handle([requested("c1", attempts=1), requested("c1", attempts=2)])
    commands.handle([requested("elsewhere", attempts=1, equipment_id="there")])
    assert [(r.command.command_id, attempt) for r, attempt in links.pushed] == [
        ("c1", 1),
        ("c1", 2),
    ]
    assert links.pushed[0][0].command.parameters_json == '{"steps": 3}'
    assert bus.published == []  # sent is not delivered
    commands.received(DEVICE, link_pb.CommandReceipt(command_id="c1"))
    assert stages(bus) == [("c1", pb.COMMAND_STAGE_DELIVERED)]
    assert bus.published[0].topic == Topic.COMMAND_RESULTS


def test_a_cancellation_goes_down_to_the_machine() -> None:
    commands, links, _ = relay()
    cancelled = pb.CommandCancelled(command_id="c1", equipment_id="here")
    commands.handle([on_topic(cancelled, "command.cancelled")])
    ((response, _),) = links.pushed
    assert response.command_cancellation.command_id == "c1"
