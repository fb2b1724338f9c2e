"""The device link: a machine's bidirectional gRPC stream to the platform.

One stream per connected machine. The stream is read one batch at a time and
each batch is acknowledged only after its points are durable, so a machine that
sends faster than the platform stores is slowed down by gRPC flow control
instead of filling memory.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import grpc
from prometheus_client import Gauge

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud.gateway.v1 import device_link_pb2_grpc as pb_grpc
from imcloud_core.errors import FailedPrecondition, ResourceExhausted, Unauthenticated
from imcloud_core.logging import bound_context, get_logger
from imcloud_core.rpc import registrar
from imcloud_gateway.api.intake import TelemetryIntake
from imcloud_gateway.domain import devices
from imcloud_gateway.domain.model import DevicePrincipal
from imcloud_gateway.domain.ports import UnitOfWork
from imcloud_gateway.domain.telemetry import CheckedBatch, RefusalReason

log = get_logger(__name__)

OPEN_STREAMS = Gauge("imcloud_device_streams", "Device-link streams open on this gateway")

# How often an open stream re-checks its credential, so a revocation made on
# another gateway replica closes it too.
RECHECK_CREDENTIAL_S = 5.0
# When a full gateway suggests the machine try again (another replica may answer).
RETRY_FULL_S = 5.0

REFUSAL_REASONS = {
    RefusalReason.UNKNOWN_SIGNAL: pb.REFUSAL_REASON_UNKNOWN_SIGNAL,
    RefusalReason.WRONG_TYPE: pb.REFUSAL_REASON_WRONG_TYPE,
    RefusalReason.NOT_FINITE: pb.REFUSAL_REASON_NOT_FINITE,
    RefusalReason.TIMESTAMP_OUT_OF_WINDOW: pb.REFUSAL_REASON_TIMESTAMP_OUT_OF_WINDOW,
    RefusalReason.MALFORMED_SERIES: pb.REFUSAL_REASON_MALFORMED_SERIES,
    RefusalReason.BATCH_TOO_LARGE: pb.REFUSAL_REASON_BATCH_TOO_LARGE,
    RefusalReason.DUPLICATE_POINT: pb.REFUSAL_REASON_DUPLICATE_POINT,
}


def ack_message(checked: CheckedBatch) -> pb.BatchAck:
    return pb.BatchAck(
        sequence_id=checked.sequence_id,
        accepted_points=checked.accepted_points,
        flagged_points=checked.flagged_points,
        refusals=[
            pb.Refusal(
                signal=r.signal,
                reason=REFUSAL_REASONS[r.reason],
                points=r.points,
                detail=r.detail,
            )
            for r in checked.refusals
        ],
    )


class Connection(Protocol):
    """How a device stream's connection is ended: a gRPC call, an MQTT connection."""

    def cancel(self) -> object: ...


class Outgoing(Protocol):
    """Where a device stream's messages wait to go down: acknowledgements and
    commands; None ends the stream, an exception ends it with that error."""

    def put(self, item: pb.ConnectResponse | BaseException | None) -> None: ...


@dataclass(eq=False)
class DeviceStream:
    """One open device link: its machine, its connection, and what waits to go down it."""

    device: DevicePrincipal
    context: Connection
    outgoing: Outgoing
    # A gRPC stream holds one of the server's threads, and those are counted; an
    # MQTT connection holds none (its endpoint limits connections itself).
    holds_thread: bool = True
    # Sends of commands already made down this stream (command id and attempt):
    # one can come both from the waiting list on connect and from the commands
    # topic; a resend (a later attempt) goes down again.
    commands_sent: set[tuple[str, int]] = field(default_factory=set)
    # While the waiting list is being sent (None after), commands from the topic
    # wait here, so the machine gets them all oldest first.
    held: list[pb.ConnectResponse] | None = field(default_factory=list)


class OpenStreams:
    """The device-link streams this gateway holds, at most one per credential and
    ``capacity`` in all: commands find their machine here, and revoking a credential
    closes its streams at once."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._streams: set[DeviceStream] = set()
        self._lock = threading.Lock()

    def add(self, stream: DeviceStream) -> None:
        """Holds a new stream; the credential's older stream is ended, since a
        machine reconnecting is far likelier than two machines sharing a secret."""
        credential_id = stream.device.credential_id
        with self._lock:
            replaced = [s for s in self._streams if s.device.credential_id == credential_id]
            if stream.holds_thread and self._threads_held(replaced) >= self._capacity:
                raise ResourceExhausted(
                    f"this gateway holds its maximum of {self._capacity} device streams",
                    retry_after_s=RETRY_FULL_S,
                )
            self._streams.difference_update(replaced)
            self._streams.add(stream)
        OPEN_STREAMS.inc(1 - len(replaced))
        for old in replaced:
            old.outgoing.put(
                FailedPrecondition("replaced by a newer stream opened with the same credential")
            )

    def _threads_held(self, leaving: list[DeviceStream] | None = None) -> int:
        return sum(s.holds_thread for s in self._streams.difference(leaving or []))

    def discard(self, stream: DeviceStream) -> bool:
        """Lets go of a stream; False if a newer one had replaced it already."""
        with self._lock:
            if stream not in self._streams:
                return False
            self._streams.discard(stream)
        OPEN_STREAMS.dec()
        return True

    def holds(self, equipment_id: str) -> bool:
        """Whether a stream of the machine is open here (it may have two credentials)."""
        with self._lock:
            return any(s.device.equipment_id == equipment_id for s in self._streams)

    def full(self) -> bool:
        with self._lock:
            return self._threads_held() >= self._capacity

    @property
    def capacity(self) -> int:
        return self._capacity

    def push(
        self,
        equipment_id: str,
        response: pb.ConnectResponse,
        *,
        waiting: bool = False,
        attempt: int = 0,
    ) -> bool:
        """Queues a message for the machine's stream, each send of a command once;
        False if the machine is not connected here. ``waiting`` marks the waiting
        list sent on connect, which goes ahead of what the topic brings meanwhile;
        ``attempt`` tells a command's resend from a repeat of the same send."""
        send = (response.command.command_id, attempt) if response.HasField("command") else None
        sending: list[DeviceStream] = []
        with self._lock:
            streams = [s for s in self._streams if s.device.equipment_id == equipment_id]
            for stream in streams:
                if send in stream.commands_sent:
                    continue
                if send is not None:
                    stream.commands_sent.add(send)
                if stream.held is not None and not waiting:
                    stream.held.append(response)
                else:
                    sending.append(stream)
        for stream in sending:
            stream.outgoing.put(response)
        return bool(streams)

    def caught_up(self, stream: DeviceStream) -> None:
        """The waiting list is sent: what the topic brought meanwhile follows it."""
        with self._lock:
            held, stream.held = stream.held or [], None
        for response in held:
            stream.outgoing.put(response)

    def close(self, credential_id: str) -> int:
        with self._lock:
            closing = [s for s in self._streams if s.device.credential_id == credential_id]
        for stream in closing:
            stream.context.cancel()
        return len(closing)

    def close_all(self) -> None:
        """Ends every stream at once (shutdown): devices reconnect to another replica
        instead of waiting out the server's grace period."""
        with self._lock:
            closing = list(self._streams)
        for stream in closing:
            stream.context.cancel()


def presented_credential(context: grpc.ServicerContext) -> str:
    for key, value in context.invocation_metadata():
        if key == "authorization" and isinstance(value, str):
            scheme, _, credential = value.partition(" ")
            if scheme.lower() == "bearer" and credential:
                return credential
    raise Unauthenticated("no device credential: send metadata 'authorization: Bearer imd_...'")


class CommandSide(Protocol):
    """What the device link needs from remote operation."""

    def deliver_waiting(self, device: DevicePrincipal) -> None: ...

    def received(self, device: DevicePrincipal, receipt: pb.CommandReceipt) -> None: ...

    def answered(self, device: DevicePrincipal, result: pb.CommandResult) -> None: ...


class DesiredSide(Protocol):
    """What the device link needs from the twin's desired state."""

    def deliver_on_connect(self, device: DevicePrincipal) -> None: ...

    def applied(self, device: DevicePrincipal, report: pb.DesiredStateApplied) -> None: ...


@dataclass(frozen=True)
class DeviceSessions:
    """What a machine's session works with, whichever link it came by (the gRPC
    stream, MQTT)."""

    unit_of_work: Callable[[], UnitOfWork]
    intake: TelemetryIntake
    streams: OpenStreams
    connection_changed: Callable[[DevicePrincipal, bool], None]
    commands: CommandSide
    desired: DesiredSide


class DeviceLinkServicer(pb_grpc.DeviceLinkServiceServicer):
    def __init__(self, sessions: DeviceSessions) -> None:
        self._uow = sessions.unit_of_work
        self._intake = sessions.intake
        self._streams = sessions.streams
        self._connection_changed = sessions.connection_changed
        self._commands = sessions.commands
        self._desired = sessions.desired

    def Connect(  # noqa: N802 - gRPC method names are PascalCase
        self, request_iterator: Iterator[pb.ConnectRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.ConnectResponse]:
        presented = presented_credential(context)
        device = devices.authenticate_device(self._uow(), presented=presented)
        outgoing: queue.Queue[pb.ConnectResponse | BaseException | None] = queue.Queue()
        stream = DeviceStream(device, context, outgoing)
        self._streams.add(stream)
        # However the call ends (the machine left, a revocation, a stop), the
        # response loop below must not wait on the queue any longer.
        context.add_callback(lambda: outgoing.put(None))
        # Tells the machine at once that the stream is taken.
        context.send_initial_metadata(())
        self._connection_changed(device, True)
        # Reading runs on a thread of its own, so commands can go down the stream
        # while the machine is quiet; it reads the next batch only after acking
        # this one, which is the backpressure.
        reader = threading.Thread(
            target=self._read,
            args=(request_iterator, stream),
            name=f"device-{device.equipment_id[:8]}",
            daemon=True,
        )
        try:
            with bound_context(tenant_id=device.tenant_id, equipment_id=device.equipment_id):
                log.info("device connected")
                reader.start()
                try:
                    self._commands.deliver_waiting(device)
                    self._desired.deliver_on_connect(device)
                finally:
                    self._streams.caught_up(stream)
                checked_at = time.monotonic()
                while True:
                    # Idle or busy, the stream notices within this time that its
                    # credential was revoked, whichever replica handled that.
                    if time.monotonic() - checked_at >= RECHECK_CREDENTIAL_S:
                        devices.authenticate_device(self._uow(), presented=presented)
                        checked_at = time.monotonic()
                    try:
                        item = outgoing.get(timeout=RECHECK_CREDENTIAL_S)
                    except queue.Empty:
                        continue
                    if item is None:
                        break
                    if isinstance(item, BaseException):
                        raise item
                    yield item
        finally:
            # A replaced stream's machine is still connected, by its newer stream.
            # The machine is offline once its last link has gone (it may hold two).
            if self._streams.discard(stream) and not self._streams.holds(device.equipment_id):
                self._connection_changed(device, False)
            log.info("device disconnected", equipment_id=device.equipment_id)

    def _read(self, request_iterator: Iterator[pb.ConnectRequest], stream: DeviceStream) -> None:
        ending: BaseException | None = None
        try:
            for message in request_iterator:
                if message.HasField("telemetry"):
                    batch = message.telemetry
                    ack = ack_message(
                        self._intake.ingest(
                            stream.device,
                            sequence_id=batch.sequence_id,
                            series=batch.series,
                            link="grpc",
                        )
                    )
                    stream.outgoing.put(pb.ConnectResponse(ack=ack))
                elif message.HasField("command_receipt"):
                    self._commands.received(stream.device, message.command_receipt)
                elif message.HasField("command_result"):
                    self._commands.answered(stream.device, message.command_result)
                elif message.HasField("desired_state_applied"):
                    self._desired.applied(stream.device, message.desired_state_applied)
        except grpc.RpcError:
            pass  # the machine went away; the stream simply ends
        except Exception as error:
            ending = error
        finally:
            stream.outgoing.put(ending)


register = registrar(pb, "DeviceLinkService", pb_grpc.add_DeviceLinkServiceServicer_to_server)
