"""The MQTT endpoint: machines whose firmware speaks MQTT 3.1.1 or 5 connect to the
gateway itself, with ThingsBoard's device topics (thingsboard.py).

The gateway is the MQTT server, not a bridge to a broker, because a device's PUBACK
must mean what the device link's ack means: its points are on Kafka. Each
connection is a device session like a device-link stream: the device credential
authenticates (as the password, or as the user name with no password, as
ThingsBoard's access tokens do), the connection joins the gateway's open streams so
commands reach it from any replica's command topic, and a revoked credential closes
it. Topics are the machine's own ("me"): there is no topic through which one machine
could reach another's data, and anything else is refused, with an MQTT 5 reason code
where the protocol has room for one, and counted.

Connections live on one asyncio loop in a thread of their own; what blocks (the
database, Kafka, the backends) runs on a small pool of threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud_core.errors import NotFound, Unauthenticated
from imcloud_core.ids import now_ms
from imcloud_core.logging import bound_context, get_logger
from imcloud_gateway.api.device_link import (
    RECHECK_CREDENTIAL_S,
    DeviceSessions,
    DeviceStream,
)
from imcloud_gateway.api.mqtt import sparkplug, thingsboard
from imcloud_gateway.api.mqtt.packets import (
    MAX_REMAINING_LENGTH,
    MQTT_3_1_1,
    MQTT_5,
    Acknowledgement,
    Connect,
    Control,
    MalformedPacket,
    PacketTooLarge,
    PacketType,
    Property,
    Publish,
    ReasonCode,
    Subscribe,
    Unsubscribe,
    acknowledgement,
    connack,
    disconnect,
    pingresp,
    publish,
    read_packet,
    suback,
    unsuback,
)
from imcloud_gateway.domain import devices
from imcloud_gateway.domain.model import DevicePrincipal
from imcloud_gateway.domain.telemetry import Refusal, RefusalReason

log = get_logger(__name__)

CONNECTIONS = Gauge("imcloud_mqtt_connections", "MQTT connections open on this gateway")
CONNECTS = Counter(
    "imcloud_mqtt_connects_total", "MQTT CONNECT packets answered, by reason code", ["reason"]
)
MESSAGES = Counter(
    "imcloud_mqtt_messages_total",
    "MQTT PUBLISH packets from machines, by topic kind, outcome and reason",
    ["topic", "outcome", "reason"],
)

# A connection that sends no CONNECT within this time is closed.
CONNECT_TIMEOUT_S = 10.0
# Until a credential is checked, a connection costs at most this much: a CONNECT of
# this size at most, and this many connections awaiting their CONNECT at once.
MAX_CONNECT_BYTES = 65_536
MAX_CONNECTING = 256
# The MQTT specification's grace: one and a half keep-alive periods of silence.
KEEP_ALIVE_GRACE = 1.5
BLOCKING_THREADS = 32
T = TypeVar("T")


class Carries(Enum):
    """What a machine's subscription brings it."""

    COMMANDS = "commands"
    DESIRED_STATE = "desired state"


class MqttEndpoint:
    """The MQTT listeners of one gateway process (plain, and TLS when configured)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        tls_port: int,
        max_connections: int,
        max_packet_bytes: int,
        sessions: DeviceSessions,
    ) -> None:
        self._listen = [(host, port, None)] + ([(host, tls_port, tls)] if tls else [])
        self.max_connections = max_connections
        self.max_packet_bytes = max_packet_bytes
        # Authenticated connections (the loop's thread counts them).
        self.connected = 0
        self.sessions = sessions
        self.loop = asyncio.new_event_loop()
        self._pool = ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="mqtt-blocking")
        self._servers: list[asyncio.Server] = []
        self._sessions: set[Session] = set()
        self._serving: set[asyncio.Task[None]] = set()
        self.connecting = 0
        self._recheck: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="gateway-mqtt")
        self.ports: list[int] = []

    def start(self) -> None:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._open(), self.loop).result(timeout=15)
        except OSError as error:
            self._end_loop()
            raise OSError(
                f"the MQTT endpoint could not listen ({error}): IMCLOUD_GATEWAY__MQTT_HOST, "
                "IMCLOUD_GATEWAY__MQTT_PORT, IMCLOUD_GATEWAY__MQTT_TLS_PORT"
            ) from error
        log.info("MQTT endpoint listening", ports=self.ports)

    async def _open(self) -> None:
        for host, port, tls in self._listen:
            server = await asyncio.start_server(self._serve, host, port, ssl=tls)
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])
        self._recheck = asyncio.ensure_future(self._recheck_credentials())

    async def _recheck_credentials(self) -> None:
        """Ends the connections whose credential was revoked, on whichever replica
        that happened, within RECHECK_CREDENTIAL_S: one query for all of them."""
        while True:
            await asyncio.sleep(RECHECK_CREDENTIAL_S)
            held = {s.credential_id: s for s in self._sessions if s.credential_id}
            if not held:
                continue
            try:
                valid = await self.blocking(
                    devices.still_valid, self.sessions.unit_of_work(), list(held)
                )
            except Exception:
                log.exception("MQTT credentials not rechecked")
                continue
            for credential_id in held.keys() - valid:
                held[credential_id].end(
                    ReasonCode.NOT_AUTHORIZED, "the device credential is revoked"
                )

    def stop(self) -> None:
        """Closes the listeners and tells every machine the server is shutting down,
        so it reconnects to another replica at once."""
        if not self._thread.is_alive():
            return
        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(timeout=10)
        self._end_loop()

    async def _close(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
        for server in self._servers:
            server.close()
        for session in list(self._sessions):
            session.end(ReasonCode.SERVER_SHUTTING_DOWN, "the gateway is stopping")
        # Each connection's end still reports its machine disconnected.
        if self._serving:
            await asyncio.wait(self._serving, timeout=5)

    def _end_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def blocking(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.loop.run_in_executor(self._pool, lambda: work(*args, **kwargs))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.connecting >= MAX_CONNECTING:
            log.warning("MQTT connection closed: too many connections await their CONNECT")
            writer.close()
            return
        session = Session(self, reader, writer)
        self._sessions.add(session)
        task = asyncio.current_task()
        assert task is not None
        self._serving.add(task)
        try:
            await session.run()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the machine went away, or went silent
        except (MalformedPacket, PacketTooLarge) as error:
            # Before CONNECT: there is nobody to tell.
            log.info("MQTT connection closed", reason=str(error))
        except Exception:
            log.exception("MQTT connection failed")
        finally:
            self._sessions.discard(session)
            await session.closed()
            self._serving.discard(task)


class Session:
    """One MQTT connection, from CONNECT to its end; once authenticated it is also a
    device stream (``outgoing.put`` and ``cancel`` are called from other threads)."""

    def __init__(
        self, endpoint: MqttEndpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._endpoint = endpoint
        self._reader = reader
        self._writer = writer
        self._level = MQTT_5
        self._device: DevicePrincipal | None = None
        self._stream: DeviceStream | None = None
        # The QoS of the machine's subscriptions, by what they carry: commands
        # (ThingsBoard's RPC or its Sparkplug command topic) and the desired state
        # (shared attributes). Until the machine subscribes, commands wait in _held
        # and the latest desired state in _held_desired.
        self._qos: dict[Carries, int] = {}
        self._edge = sparkplug.EdgeNode()
        self._held_desired: pb.DesiredState | None = None
        # MQTT 5 clients may announce the largest packet they take.
        self._client_max_bytes = MAX_REMAINING_LENGTH
        self._held: list[pb.Command] = []
        # Commands sent at QoS 1 whose PUBACK (the machine's receipt) is awaited.
        self._in_flight: dict[int, str] = {}
        # Receipts of commands sent at QoS 0, on their way to the platform.
        self._receipts: set[asyncio.Future[None]] = set()
        self._next_packet_id = 0
        self._ended = False

    # -- as a device stream (any thread) ---------------------------------------------

    def put(self, item: pb.ConnectResponse | BaseException | None) -> None:
        self._endpoint.loop.call_soon_threadsafe(self._down, item)

    def cancel(self) -> None:
        self._endpoint.loop.call_soon_threadsafe(
            self.end, ReasonCode.NOT_AUTHORIZED, "the device credential was revoked"
        )

    # -- the connection ---------------------------------------------------------------

    @property
    def credential_id(self) -> str | None:
        return self._device.credential_id if self._device else None

    async def run(self) -> None:
        self._endpoint.connecting += 1
        try:
            first = await asyncio.wait_for(self._read(MAX_CONNECT_BYTES), CONNECT_TIMEOUT_S)
        finally:
            self._endpoint.connecting -= 1
        if not isinstance(first, Connect):
            return  # MQTT's first packet is CONNECT; anything else ends the connection
        if not await self._accept(first):
            return
        assert self._device is not None
        with bound_context(
            tenant_id=self._device.tenant_id, equipment_id=self._device.equipment_id
        ):
            log.info("MQTT device connected", protocol_level=self._level)
            await self._endpoint.blocking(
                self._endpoint.sessions.connection_changed, self._device, True
            )
            # Commands waiting for the machine go down before those the topic brings.
            assert self._stream is not None
            try:
                await self._endpoint.blocking(
                    self._endpoint.sessions.commands.deliver_waiting, self._device
                )
                await self._endpoint.blocking(
                    self._endpoint.sessions.desired.deliver_on_connect, self._device
                )
            finally:
                self._endpoint.sessions.streams.caught_up(self._stream)
            await self._converse(first.keep_alive_s)

    async def _accept(self, connect: Connect) -> bool:
        if connect.protocol_level not in (MQTT_3_1_1, MQTT_5):
            self._level = MQTT_3_1_1
            await self._refuse_connect(ReasonCode.UNSUPPORTED_PROTOCOL_VERSION)
            return False
        self._level = connect.protocol_level
        announced = connect.properties.get(Property.MAXIMUM_PACKET_SIZE)
        if isinstance(announced, int) and announced > 0:
            self._client_max_bytes = announced
        if connect.will is not None:
            # A Sparkplug edge node names itself in its will (NDEATH) first.
            with contextlib.suppress(thingsboard.PayloadInvalid, sparkplug.NotYours):
                will = sparkplug.parse_topic(connect.will.topic)
                if will is not None:
                    self._edge.claim(will)
        presented = _credential(connect)
        if presented is None:
            await self._refuse_connect(ReasonCode.BAD_USER_NAME_OR_PASSWORD)
            return False
        try:
            device = await self._endpoint.blocking(
                devices.authenticate_device,
                self._endpoint.sessions.unit_of_work(),
                presented=presented,
            )
        except Unauthenticated as error:
            log.info("MQTT connection refused", reason=str(error))
            await self._refuse_connect(ReasonCode.BAD_USER_NAME_OR_PASSWORD)
            return False
        if self._endpoint.connected >= self._endpoint.max_connections:
            log.warning(
                "MQTT connection refused: this gateway is full",
                max_connections=self._endpoint.max_connections,
            )
            await self._refuse_connect(ReasonCode.SERVER_BUSY)
            return False
        stream = DeviceStream(device, self, self, holds_thread=False)
        self._endpoint.sessions.streams.add(stream)
        self._device, self._stream = device, stream
        self._endpoint.connected += 1
        CONNECTIONS.inc()
        properties: dict[int, object] = {
            Property.MAXIMUM_QOS: 1,
            Property.RETAIN_AVAILABLE: 0,
            Property.SHARED_SUBSCRIPTION_AVAILABLE: 0,
            Property.SUBSCRIPTION_IDENTIFIER_AVAILABLE: 0,
            Property.MAXIMUM_PACKET_SIZE: self._endpoint.max_packet_bytes,
        }
        if not connect.client_id:
            properties[Property.ASSIGNED_CLIENT_IDENTIFIER] = device.equipment_id
        # No session outlives its connection here (a machine's commands wait in the
        # platform's ledger instead), so the session is never "present".
        if Property.SESSION_EXPIRY_INTERVAL in connect.properties:
            properties[Property.SESSION_EXPIRY_INTERVAL] = 0
        CONNECTS.labels(ReasonCode.SUCCESS.name).inc()
        await self._send(connack(self._level, ReasonCode.SUCCESS, properties=properties))
        return True

    async def _refuse_connect(self, reason: ReasonCode) -> None:
        CONNECTS.labels(reason.name).inc()
        await self._send(connack(self._level, reason))

    async def _converse(self, keep_alive_s: int) -> None:
        # Ending the connection closes it, and the read in progress meets its end.
        silence = keep_alive_s * KEEP_ALIVE_GRACE if keep_alive_s else None
        while True:
            try:
                packet = await asyncio.wait_for(self._read(), silence)
            except TimeoutError:
                self.end(ReasonCode.KEEP_ALIVE_TIMEOUT, "no packet within 1.5 keep-alive periods")
                return
            except PacketTooLarge as error:
                self.end(ReasonCode.PACKET_TOO_LARGE, str(error))
                return
            except MalformedPacket as error:
                log.info("MQTT packet malformed", reason=str(error))
                self.end(ReasonCode.MALFORMED_PACKET, str(error))
                return
            if not await self._handle(packet):
                return

    async def _handle(self, packet: object) -> bool:
        """Answers one packet; False when the connection ends with it."""
        if isinstance(packet, Publish):
            await self._published(packet)
        elif isinstance(packet, Subscribe):
            await self._subscribe(packet)
        elif isinstance(packet, Unsubscribe):
            reasons = []
            for topic_filter in packet.filters:
                carries = self._carries(topic_filter)
                subscribed = carries is not None and self._qos.pop(carries, None) is not None
                reasons.append(
                    ReasonCode.SUCCESS if subscribed else ReasonCode.NO_SUBSCRIPTION_EXISTED
                )
            await self._send(unsuback(self._level, packet.packet_id, reasons))
        elif isinstance(packet, Acknowledgement):
            await self._acknowledged(packet)
        elif isinstance(packet, Control) and packet.kind is PacketType.PINGREQ:
            await self._send(pingresp())
        elif isinstance(packet, Control) and packet.kind is PacketType.DISCONNECT:
            return False
        else:
            self.end(ReasonCode.PROTOCOL_ERROR, f"{type(packet).__name__} is not expected here")
            return False
        return True

    # -- from the machine --------------------------------------------------------------

    async def _published(self, message: Publish) -> None:
        if Property.TOPIC_ALIAS in message.properties:
            self.end(ReasonCode.TOPIC_ALIAS_INVALID, "the topic alias maximum is 0")
            return
        if message.topic == thingsboard.TELEMETRY:
            reason, detail = await self._telemetry(message)
        elif message.topic.startswith(sparkplug.NAMESPACE + "/"):
            reason, detail = await self._sparkplug(message)
        elif message.topic.startswith(thingsboard.RPC_RESPONSE):
            reason, detail = await self._rpc_response(message)
        elif message.topic == thingsboard.ATTRIBUTES:
            reason, detail = await self._attributes(message)
        else:
            reason, detail = (
                ReasonCode.NOT_AUTHORIZED,
                (
                    f"a machine publishes on {thingsboard.TELEMETRY}, {thingsboard.ATTRIBUTES}, "
                    f"{thingsboard.RPC_RESPONSE}{{id}} and its Sparkplug B topics only, "
                    f"not {message.topic!r}"
                ),
            )
            MESSAGES.labels("other", "refused", "not_authorized").inc()
            log.info("MQTT publish refused", topic=message.topic, reason=detail)
        if message.qos:
            kind = PacketType.PUBACK if message.qos == 1 else PacketType.PUBREC
            answer = acknowledgement(self._level, kind, _id(message), reason, reason_string=detail)
            if not self._fits(answer):  # the reason string is what may be left out
                answer = acknowledgement(self._level, kind, _id(message), reason)
            await self._send(answer)

    async def _telemetry(self, message: Publish) -> tuple[ReasonCode, str]:
        try:
            parsed = thingsboard.telemetry(message.payload, now_ms=now_ms())
        except thingsboard.PayloadInvalid as error:
            MESSAGES.labels("telemetry", "refused", "payload_invalid").inc()
            log.info("MQTT telemetry refused", reason=str(error))
            return ReasonCode.PAYLOAD_FORMAT_INVALID, str(error)
        return await self._record("telemetry", parsed.series, parsed.refusals, parsed.sequence_id)

    async def _sparkplug(self, message: Publish) -> tuple[ReasonCode, str]:
        assert self._device is not None
        try:
            topic = sparkplug.parse_topic(message.topic)
            assert topic is not None
            self._edge.claim(topic)
            outcome = self._edge.received(topic, message.payload)
        except sparkplug.NotYours as error:
            MESSAGES.labels("sparkplug", "refused", "not_authorized").inc()
            log.info("Sparkplug message refused", topic=message.topic, reason=str(error))
            return ReasonCode.NOT_AUTHORIZED, str(error)
        except thingsboard.PayloadInvalid as error:
            MESSAGES.labels("sparkplug", "refused", "payload_invalid").inc()
            log.info("Sparkplug message refused", topic=message.topic, reason=str(error))
            return ReasonCode.PAYLOAD_FORMAT_INVALID, str(error)
        if outcome.rebirth:
            # Messages went missing (QoS 0): a new birth tells the whole state again.
            log.info("Sparkplug sequence broken: rebirth requested", topic=message.topic)
            MESSAGES.labels("sparkplug", "rebirth_requested", outcome.detail or "seq_gap").inc()
            rebirth_topic, payload = self._edge.rebirth_request(now_ms=now_ms())
            await self._send(publish(self._level, rebirth_topic, payload, qos=0, packet_id=0))
        if outcome.online is not None:
            await self._endpoint.blocking(
                self._endpoint.sessions.connection_changed, self._device, outcome.online
            )
        if not outcome.series and not outcome.refusals:
            if not outcome.rebirth:
                MESSAGES.labels("sparkplug", "accepted", topic.kind.lower()).inc()
            return ReasonCode.SUCCESS, outcome.detail
        return await self._record(
            "sparkplug", outcome.series, outcome.refusals, outcome.sequence_id
        )

    async def _record(
        self,
        kind: str,
        series: list[thingsboard.JsonSeries],
        refused_here: list[Refusal],
        sequence_id: int,
    ) -> tuple[ReasonCode, str]:
        """Checks and records a message's points; the answer for its PUBACK."""
        assert self._device is not None
        try:
            checked = await self._endpoint.blocking(
                self._endpoint.sessions.intake.ingest,
                self._device,
                sequence_id=sequence_id,
                series=series,
                link="mqtt",
            )
        except NotFound as error:
            self.end(ReasonCode.NOT_AUTHORIZED, str(error))
            raise ConnectionAbortedError(str(error)) from None
        except Exception:
            # Not durable: no PUBACK, and the machine sends the message again.
            log.exception("MQTT telemetry not recorded")
            self.end(ReasonCode.SERVER_UNAVAILABLE, "the telemetry could not be recorded")
            raise ConnectionAbortedError("telemetry not recorded") from None
        refusals = refused_here + checked.refusals
        if not refusals:
            MESSAGES.labels(kind, "accepted", "").inc()
            return ReasonCode.SUCCESS, ""
        summary = thingsboard.refusal_summary(refusals)
        if checked.accepted_points:
            MESSAGES.labels(kind, "partly_refused", refusals[0].reason.value).inc()
            return ReasonCode.SUCCESS, f"{checked.accepted_points} points accepted; {summary}"
        MESSAGES.labels(kind, "refused", refusals[0].reason.value).inc()
        too_large = refusals[0].reason is RefusalReason.BATCH_TOO_LARGE
        return (ReasonCode.QUOTA_EXCEEDED if too_large else ReasonCode.PAYLOAD_FORMAT_INVALID,
                f"nothing accepted; {summary}")  # fmt: skip

    async def _rpc_response(self, message: Publish) -> tuple[ReasonCode, str]:
        assert self._device is not None
        command_id = message.topic.removeprefix(thingsboard.RPC_RESPONSE)
        if not command_id or "/" in command_id:
            MESSAGES.labels("rpc_response", "refused", "topic_name_invalid").inc()
            return ReasonCode.TOPIC_NAME_INVALID, "the topic ends with the request's id"
        result = thingsboard.rpc_result(command_id, message.payload)
        await self._endpoint.blocking(
            self._endpoint.sessions.commands.answered, self._device, result
        )
        MESSAGES.labels("rpc_response", "accepted", "").inc()
        return ReasonCode.SUCCESS, ""

    async def _attributes(self, message: Publish) -> tuple[ReasonCode, str]:
        assert self._device is not None
        try:
            report = thingsboard.applied_report(message.payload)
        except thingsboard.PayloadInvalid as error:
            MESSAGES.labels("attributes", "refused", "payload_invalid").inc()
            return ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR, str(error)
        await self._endpoint.blocking(self._endpoint.sessions.desired.applied, self._device, report)
        MESSAGES.labels("attributes", "accepted", "").inc()
        return ReasonCode.SUCCESS, ""

    def _carries(self, topic_filter: str) -> Carries | None:
        """What a subscription to the filter would carry; None: not the machine's."""
        if topic_filter == thingsboard.RPC_REQUESTS or self._edge.may_subscribe(topic_filter):
            return Carries.COMMANDS
        if topic_filter == thingsboard.ATTRIBUTES:
            return Carries.DESIRED_STATE
        return None

    async def _subscribe(self, request: Subscribe) -> None:
        granted = []
        for topic_filter, qos in request.filters:
            carries = self._carries(topic_filter)
            if carries is None:
                log.info("MQTT subscription refused", topic_filter=topic_filter)
                granted.append(ReasonCode.NOT_AUTHORIZED)
            else:
                self._qos[carries] = min(qos, 1)
                granted.append(ReasonCode(self._qos[carries]))
        await self._send(suback(self._level, request.packet_id, granted))
        if Carries.COMMANDS in self._qos:
            held, self._held = self._held, []
            for command in held:
                self._command(command)
        if Carries.DESIRED_STATE in self._qos and self._held_desired is not None:
            desired, self._held_desired = self._held_desired, None
            self._desired_state(desired)

    async def _acknowledged(self, ack: Acknowledgement) -> None:
        if ack.kind is PacketType.PUBREL:  # QoS 2 from the machine: its second step
            await self._send(acknowledgement(self._level, PacketType.PUBCOMP, ack.packet_id))
            return
        command_id = self._in_flight.pop(ack.packet_id, None)
        if ack.kind is PacketType.PUBACK and command_id is not None:
            await self._received(command_id)

    async def _received(self, command_id: str) -> None:
        assert self._device is not None
        await self._endpoint.blocking(
            self._endpoint.sessions.commands.received,
            self._device,
            pb.CommandReceipt(command_id=command_id),
        )

    # -- to the machine ----------------------------------------------------------------

    def _down(self, item: pb.ConnectResponse | BaseException | None) -> None:
        if item is None:
            self.end(ReasonCode.SERVER_SHUTTING_DOWN, "")
        elif isinstance(item, BaseException):
            self.end(ReasonCode.SESSION_TAKEN_OVER, str(item))
        elif item.HasField("command"):
            if Carries.COMMANDS in self._qos:
                self._command(item.command)
            else:
                self._held.append(item.command)
        elif item.HasField("desired_state"):
            if Carries.DESIRED_STATE in self._qos:
                self._desired_state(item.desired_state)
            else:
                self._held_desired = item.desired_state
        # A cancellation has no topic in ThingsBoard's API nor in Sparkplug's.

    def _desired_state(self, desired: pb.DesiredState) -> None:
        payload = thingsboard.desired_attributes(desired)
        self._down_publish(
            Carries.DESIRED_STATE,
            thingsboard.ATTRIBUTES,
            payload,
            f"desired version {desired.version}",
        )

    def _command(self, command: pb.Command) -> None:
        if self._edge.born:
            topic, payload = self._edge.command(command, now_ms=now_ms())
        else:
            topic, payload = thingsboard.rpc_request(command)
        # A command too large for the machine stays pending in the ledger and expires there.
        packet_id = self._down_publish(
            Carries.COMMANDS, topic, payload, f"command {command.command_id}"
        )
        if packet_id:
            self._in_flight[packet_id] = command.command_id
        elif packet_id == 0:  # at most once: sending it is all the receipt there is
            task = asyncio.ensure_future(self._received(command.command_id))
            self._receipts.add(task)
            task.add_done_callback(self._receipts.discard)

    def _down_publish(self, carries: Carries, topic: str, payload: bytes, what: str) -> int | None:
        """Publishes to the machine at its subscription's QoS: the packet id (0 at
        QoS 0), or None when the packet is over the client's maximum size."""
        qos = self._qos.get(carries, 0)
        packet_id = self._packet_id() if qos else 0
        packet = publish(self._level, topic, payload, qos=qos, packet_id=packet_id)
        if not self._fits(packet):
            log.warning(
                "not sent: over the client's maximum packet size", what=what, size=len(packet)
            )
            return None
        self._write(packet)
        return packet_id

    def _packet_id(self) -> int:
        self._next_packet_id = self._next_packet_id % 65_535 + 1
        return self._next_packet_id

    # -- plumbing ----------------------------------------------------------------------

    async def _read(self, max_bytes: int | None = None) -> object:
        return await read_packet(
            self._reader,
            protocol_level=self._level,
            max_bytes=max_bytes or self._endpoint.max_packet_bytes,
        )

    def _fits(self, packet: bytes) -> bool:
        """Whether the packet is within the Maximum Packet Size the client announced."""
        return len(packet) <= self._client_max_bytes

    def _write(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    async def _send(self, data: bytes) -> None:
        if self._writer.is_closing():
            return
        self._writer.write(data)
        await self._writer.drain()

    def end(self, reason: ReasonCode, detail: str) -> None:
        """Ends the connection (on the loop), with a DISCONNECT where MQTT 5 has one."""
        if self._ended:
            return
        self._ended = True
        farewell = disconnect(self._level, reason, detail) if self._device else None
        if farewell is not None and not self._fits(farewell):
            farewell = disconnect(self._level, reason)
        if farewell is not None and not self._writer.is_closing():
            self._writer.write(farewell)
        self._writer.close()

    async def closed(self) -> None:
        self._ended = True
        self._writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self._writer.wait_closed()
        if self._stream is not None and self._device is not None:
            self._endpoint.connected -= 1
            CONNECTIONS.dec()
            streams = self._endpoint.sessions.streams
            # The machine is offline once its last link has gone (it may hold two).
            if streams.discard(self._stream) and not streams.holds(self._device.equipment_id):
                await self._endpoint.blocking(
                    self._endpoint.sessions.connection_changed, self._device, False
                )
            log.info("MQTT device disconnected", equipment_id=self._device.equipment_id)


def _credential(connect: Connect) -> str | None:
    if connect.password:
        return connect.password.decode("utf-8", errors="replace")
    return connect.username or None


def _id(message: Publish) -> int:
    assert message.packet_id is not None
    return message.packet_id
