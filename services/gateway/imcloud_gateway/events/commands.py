"""Remote commands at the device link: send them to the machines whose links
this gateway holds, tell them of cancellations, and report the machines'
receipts (only those make a command DELIVERED) and answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from imcloud.gateway.v1 import device_link_pb2 as link_pb
from imcloud.servitization.v1 import commands_pb2 as pb
from imcloud.servitization.v1 import servitization_service_pb2 as service_pb
from imcloud_core.bus import EventBus, OutgoingRecord, Record
from imcloud_core.convert import from_timestamp
from imcloud_core.events import Topic, new_envelope, parse_envelope, unpack
from imcloud_core.ids import utcnow
from imcloud_core.logging import get_logger
from imcloud_core.rpc import CallContext
from imcloud_gateway.clients.backends import Backends
from imcloud_gateway.domain.model import DevicePrincipal

log = get_logger(__name__)

SOURCE = "gateway"
OUTCOMES = {
    link_pb.COMMAND_OUTCOME_SUCCEEDED: pb.COMMAND_STAGE_SUCCEEDED,
    link_pb.COMMAND_OUTCOME_FAILED: pb.COMMAND_STAGE_FAILED,
    link_pb.COMMAND_OUTCOME_REJECTED: pb.COMMAND_STAGE_REJECTED,
}
WAITING = [pb.COMMAND_STATE_PENDING, pb.COMMAND_STATE_DELIVERED]
WAITING_PAGE_SIZE = 100


# Every gateway replica reads every command from the moment it starts (the bus's
# from_latest: no group in Kafka, none left behind); a command recorded earlier
# reaches its machine when the machine connects (deliver_waiting).
COMMANDS_GROUP = "gateway.commands"


class DeviceLinks(Protocol):
    """What remote operation needs from the device link: the streams open here."""

    def push(
        self,
        equipment_id: str,
        response: link_pb.ConnectResponse,
        *,
        waiting: bool = False,
        attempt: int = 0,
    ) -> bool:
        """Queues a message for the machine's stream; False if it is not connected here.
        ``waiting``: part of the waiting list sent on connect; ``attempt``: which
        send of the command it is."""


def device_context(device: DevicePrincipal) -> CallContext:
    """How the device link calls a backend on the machine's behalf."""
    return CallContext(tenant_id=device.tenant_id, actor=f"device:{device.equipment_id}")


class CommandRelay:
    def __init__(self, *, bus: EventBus, links: DeviceLinks, backends: Backends) -> None:
        self._bus = bus
        self._links = links
        self._backends = backends

    def handle(self, batch: Sequence[Record]) -> None:
        """New commands, resends and cancellations, for machines connected here."""
        for record in batch:
            envelope = parse_envelope(record.value)
            requested = unpack(envelope, pb.CommandRequested)
            if requested is not None:
                self.deliver(requested.command)
            cancelled = unpack(envelope, pb.CommandCancelled)
            if cancelled is not None:
                self._links.push(
                    cancelled.equipment_id,
                    link_pb.ConnectResponse(
                        command_cancellation=link_pb.CommandCancellation(
                            command_id=cancelled.command_id
                        )
                    ),
                )

    def deliver_waiting(self, device: DevicePrincipal) -> None:
        """On connect: every command of the machine that is still waiting, oldest first."""
        ctx = device_context(device)
        newest_first: list[pb.RemoteCommand] = []
        token = ""
        while True:
            response = self._backends.call(
                self._backends.servitization.ListCommands,
                service_pb.ListCommandsRequest(
                    equipment_id=device.equipment_id,
                    states=WAITING,
                    page_size=WAITING_PAGE_SIZE,
                    page_token=token,
                ),
                ctx,
            )
            newest_first.extend(response.commands)
            token = response.next_page_token
            if not token:
                break
        for command in reversed(newest_first):
            self.deliver(command, waiting=True)

    def deliver(self, command: pb.RemoteCommand, *, waiting: bool = False) -> None:
        """Sends the command down the machine's stream, if it is here. It is not
        DELIVERED yet: only the machine's receipt says it arrived."""
        if from_timestamp(command.expire_time) <= utcnow():
            return  # the servitization service will report it expired
        down = link_pb.Command(
            command_id=command.id,
            name=command.name,
            parameters_json=command.parameters_json,
            expire_time=command.expire_time,
        )
        if self._links.push(
            command.equipment_id,
            link_pb.ConnectResponse(command=down),
            waiting=waiting,
            attempt=command.attempts,
        ):
            log.info(
                "command sent", command_id=command.id, name=command.name, attempt=command.attempts
            )

    def received(self, device: DevicePrincipal, receipt: link_pb.CommandReceipt) -> None:
        self._report(
            device.tenant_id, receipt.command_id, device.equipment_id, pb.COMMAND_STAGE_DELIVERED
        )

    def answered(self, device: DevicePrincipal, result: link_pb.CommandResult) -> None:
        stage = OUTCOMES.get(result.outcome, pb.COMMAND_STAGE_FAILED)
        self._report(device.tenant_id, result.command_id, device.equipment_id, stage, result.detail)

    def _report(
        self,
        tenant_id: str,
        command_id: str,
        equipment_id: str,
        stage: pb.CommandStage.ValueType,
        detail: str = "",
    ) -> None:
        progressed = pb.CommandProgressed(
            command_id=command_id, equipment_id=equipment_id, stage=stage, detail=detail
        )
        envelope = new_envelope(
            tenant_id=tenant_id,
            event_type="command.progressed",
            payload=progressed,
            source=SOURCE,
        )
        self._bus.publish(
            [OutgoingRecord(Topic.COMMAND_RESULTS, equipment_id, envelope.SerializeToString())]
        )
