"""The MQTT codec against OASIS's specifications of MQTT 3.1.1 (protocol level 4) and
MQTT 5 (level 5): packets paho-mqtt sends are parsed into what paho was told to
send; packets the builders make are read by paho as what they were meant to say, and
match the specifications' bytes; whatever breaks the format raises MalformedPacket,
never another exception, and a packet over the limit raises PacketTooLarge before
its body is read.

paho-mqtt's packets come off a socket: a paho client connects to a listener the test
accepts, so the bytes are paho's own encoding, not a copy of the codec's idea of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode as PahoReason
from paho.mqtt.subscribeoptions import SubscribeOptions

from imcloud_gateway.api.mqtt.packets import (
    MQTT_3_1_1,
    MQTT_5,
    Acknowledgement,
    Connect,
    Control,
    MalformedPacket,
    Packet,
    PacketTooLarge,
    PacketType,
    Property,
    Publish,
    ReasonCode,
    Subscribe,
    Unsubscribe,
    Will,
    acknowledgement,
    connack,
    disconnect,
    parse,
    pingresp,
    publish,
    read_packet,
    suback,
    unsuback,
)

LEVELS = (MQTT_3_1_1, MQTT_5)
TELEMETRY = "v1/devices/me/telemetry"
RPC_REQUESTS = "v1/devices/me/rpc/request/+"

# -- the specifications' encodings, written out -------------------------------------


def varint(value: int) -> bytes:
    """A variable byte integer (3.1.1 section 2.2.3, 5 section 1.5.5)."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def text(value: str | bytes) -> bytes:
    """A UTF-8 encoded string, or binary data: a two-byte length, then the bytes."""
    raw = value.encode() if isinstance(value, str) else value
    return struct.pack(">H", len(raw)) + raw


def frame(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + varint(len(body)) + body


def connect_body(
    level: int,
    *,
    flags: int = 0x02,
    keep_alive: int = 60,
    properties: bytes = b"\x00",
    payload: bytes = text("mill-7"),
    name: str = "MQTT",
) -> bytes:
    head = text(name) + bytes([level, flags]) + struct.pack(">H", keep_alive)
    return head + (properties if level == MQTT_5 else b"") + payload


def publish_body(level: int, topic: str = TELEMETRY, *, packet_id: int | None = 1,
                 properties: bytes = b"\x00", payload: bytes = b"{}") -> bytes:  # fmt: skip
    body = text(topic) + (struct.pack(">H", packet_id) if packet_id is not None else b"")
    return body + (properties if level == MQTT_5 else b"") + payload


def subscribe_body(level: int, *filters: tuple[str, int], properties: bytes = b"\x00") -> bytes:
    body = b"\x00\x05" + (properties if level == MQTT_5 else b"")
    return body + b"".join(text(name) + bytes([options]) for name, options in filters)


def feed(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


def read_all(data: bytes, level: int, *, max_bytes: int = 1 << 20) -> list[Packet]:
    """Every packet in ``data``, read as the endpoint reads its connections."""

    async def read() -> list[Packet]:
        reader, packets = feed(data), []
        while not reader.at_eof():
            packets.append(await read_packet(reader, protocol_level=level, max_bytes=max_bytes))
        return packets

    return asyncio.run(read())


def read_one(data: bytes, level: int, *, max_bytes: int = 1 << 20) -> Packet:
    [packet] = read_all(data, level, max_bytes=max_bytes)
    return packet


# -- paho-mqtt on the other end of a socket ------------------------------------------


class PahoPeer:
    """A paho-mqtt client connected to a socket the test accepted: ``receive`` reads
    the next packet paho sent; ``answer`` sends paho bytes and runs its network loop
    until one of its callbacks has said what it made of them."""

    def __init__(
        self,
        protocol: int,
        *,
        configure: Callable[[mqtt.Client], None] = lambda _client: None,
        client_id: str = "mill-7",
        keepalive: int = 60,
        client_options: dict[str, Any] | None = None,
        **connect_options: Any,
    ) -> None:
        self.level = MQTT_5 if protocol == mqtt.MQTTv5 else MQTT_3_1_1
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            reconnect_on_failure=False,
            **(client_options or {}),
        )
        self.heard: list[tuple[Any, ...]] = []
        client = self.client
        client.on_connect = lambda _c, _u, flags, reason, props: self.heard.append(
            ("connack", flags, reason, props)
        )
        client.on_publish = lambda _c, _u, mid, reason, props: self.heard.append(
            ("puback", mid, reason, props)
        )
        client.on_subscribe = lambda _c, _u, mid, reasons, props: self.heard.append(
            ("suback", mid, reasons, props)
        )
        client.on_unsubscribe = lambda _c, _u, mid, reasons, props: self.heard.append(
            ("unsuback", mid, reasons, props)
        )
        client.on_message = lambda _c, _u, message: self.heard.append(("message", message))
        client.on_disconnect = lambda _c, _u, _flags, reason, props: self.heard.append(
            ("disconnect", reason, props)
        )
        configure(client)
        # Without a network thread, paho writes each packet as it is made.
        client.connect(
            "127.0.0.1", self.listener.getsockname()[1], keepalive=keepalive, **connect_options
        )
        self.server, _ = self.listener.accept()
        self.server.settimeout(2)

    def raw(self) -> bytes:
        """The next packet paho sent, fixed header and all."""
        first = self._exactly(1)
        length = b""
        while not length or length[-1] & 0x80:
            length += self._exactly(1)
        size = sum((byte & 0x7F) << (7 * n) for n, byte in enumerate(length))
        return first + length + self._exactly(size)

    def receive(self) -> Packet:
        return read_one(self.raw(), self.level)

    def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.server.recv(count - len(data))
            assert chunk, "paho closed the connection"
            data += chunk
        return data

    def answer(self, data: bytes) -> tuple[Any, ...]:
        heard = len(self.heard)
        self.server.sendall(data)
        for _ in range(40):
            self.client.loop(timeout=0.05)
            if len(self.heard) > heard:
                return self.heard[heard]
        raise AssertionError(f"paho made nothing of {data!r}")

    def accepted(self) -> None:
        """CONNACK success, as the endpoint sends it, which paho takes."""
        _, _, reason, _ = self.answer(connack(self.level, ReasonCode.SUCCESS))
        assert reason == 0

    def close(self) -> None:
        self.client.disconnect()  # paho closes its socket once DISCONNECT is written
        self.server.close()
        self.listener.close()


@pytest.fixture
def paho() -> Iterator[Callable[..., PahoPeer]]:
    peers: list[PahoPeer] = []

    def open_peer(protocol: int, **options: Any) -> PahoPeer:
        peers.append(PahoPeer(protocol, **options))
        return peers[-1]

    yield open_peer
    for peer in peers:
        peer.close()


def properties(packet_type: int, **values: Any) -> Properties:
    made = Properties(packet_type)
    for name, value in values.items():
        setattr(made, name, value)
    return made


# -- CONNECT -------------------------------------------------------------------------


def test_paho_3_1_1_connect_with_will_and_credentials(paho: Callable[..., PahoPeer]) -> None:
    def configure(client: mqtt.Client) -> None:
        client.username_pw_set("machine", "imd_abc.s3cret")
        client.will_set("v1/devices/me/status", b"offline", qos=1, retain=True)

    peer = paho(mqtt.MQTTv311, configure=configure, keepalive=42, client_id="mill-7")
    assert peer.receive() == Connect(
        protocol_level=MQTT_3_1_1,
        client_id="mill-7",
        clean_start=True,
        keep_alive_s=42,
        username="machine",
        password=b"imd_abc.s3cret",
        will=Will("v1/devices/me/status", b"offline", qos=1, retain=True),
        properties={},
    )


def test_paho_3_1_1_connect_with_a_token_an_empty_client_id_or_a_persistent_session(
    paho: Callable[..., PahoPeer],
) -> None:
    def configure(client: mqtt.Client) -> None:
        client.username_pw_set("imd_token.only")  # ThingsBoard's access token: no password

    peer = paho(mqtt.MQTTv311, configure=configure, client_id="", keepalive=0)
    connect = peer.receive()
    assert isinstance(connect, Connect)
    assert (connect.client_id, connect.clean_start, connect.keep_alive_s) == ("", True, 0)
    assert (connect.username, connect.password, connect.will) == ("imd_token.only", None, None)

    durable = paho(mqtt.MQTTv311, client_options={"clean_session": False})
    connect = durable.receive()
    assert isinstance(connect, Connect)
    assert (connect.client_id, connect.clean_start) == ("mill-7", False)


def test_paho_5_connect_with_properties_user_properties_and_a_will_with_properties(
    paho: Callable[..., PahoPeer],
) -> None:
    will_properties = properties(
        PacketTypes.WILLMESSAGE,
        WillDelayInterval=30,
        ContentType="application/json",
        UserProperty=[("reason", "power lost")],
        CorrelationData=b"\x00\xff",
    )

    def configure(client: mqtt.Client) -> None:
        client.username_pw_set("machine", "imd_abc.s3cret")
        client.will_set("v1/devices/me/status", b'{"up": false}', qos=0, retain=False,
                        properties=will_properties)  # fmt: skip

    connect_properties = properties(
        PacketTypes.CONNECT,
        SessionExpiryInterval=3600,
        ReceiveMaximum=20,
        MaximumPacketSize=65536,
        TopicAliasMaximum=0,
        RequestProblemInformation=1,
        UserProperty=[("site", "Berlin"), ("line", "2"), ("site", "Hamburg")],
    )
    peer = paho(mqtt.MQTTv5, configure=configure, keepalive=15, properties=connect_properties)
    connect = peer.receive()
    assert isinstance(connect, Connect)
    assert connect.protocol_level == MQTT_5
    assert (connect.client_id, connect.clean_start, connect.keep_alive_s) == ("mill-7", True, 15)
    assert (connect.username, connect.password) == ("machine", b"imd_abc.s3cret")
    # The will's properties are skipped; what follows them is read right.
    assert connect.will == Will("v1/devices/me/status", b'{"up": false}', qos=0, retain=False)
    assert connect.properties == {
        Property.SESSION_EXPIRY_INTERVAL: 3600,
        Property.RECEIVE_MAXIMUM: 20,
        Property.MAXIMUM_PACKET_SIZE: 65536,
        Property.TOPIC_ALIAS_MAXIMUM: 0,
        0x17: 1,  # request problem information
        # User properties may repeat; they are kept in their order.
        Property.USER_PROPERTY: [("site", "Berlin"), ("line", "2"), ("site", "Hamburg")],
    }


def test_the_3_1_1_specifications_connect_example() -> None:
    # 3.1.1 figure 3.6: protocol level 4, user name, password, a QoS 1 will, clean
    # session, keep alive 10.
    payload = text("client") + text("will/topic") + text(b"\x00bye") + text("user")
    payload += text(b"\x01\x02")
    connect = parse(PacketType.CONNECT, 0, connect_body(4, flags=0xCE, keep_alive=10,
                    payload=payload), protocol_level=MQTT_5)  # fmt: skip
    assert connect == Connect(4, "client", True, 10, "user", b"\x01\x02",
                              Will("will/topic", b"\x00bye", 1, False))  # fmt: skip


def test_a_5_connect_without_properties_is_malformed_but_one_with_none_is_not() -> None:
    # The property length is mandatory in MQTT 5, even when it is 0.
    assert isinstance(parse(1, 0, connect_body(5), protocol_level=MQTT_5), Connect)
    with pytest.raises(MalformedPacket):
        parse(1, 0, connect_body(5, properties=b""), protocol_level=MQTT_5)


@pytest.mark.parametrize(
    ("name", "level"), [("MQTT", 3), ("MQIsdp", 3), ("MQTT", 6), ("MQTT", 0), ("MQTT", 255)]
)
def test_a_connect_of_another_protocol_level_is_read_far_enough_to_refuse_it(
    name: str, level: int
) -> None:
    # Whatever follows the level may be another protocol's: the endpoint only
    # needs the level, to answer "unsupported protocol version".
    connect = parse(1, 0, text(name) + bytes([level]) + b"\xff\xff", protocol_level=MQTT_5)
    assert isinstance(connect, Connect)
    assert connect.protocol_level == level


@pytest.mark.parametrize("level", LEVELS)
def test_a_connect_with_another_protocol_name_is_not_taken_for_mqtt(level: int) -> None:
    # 3.1.1 [MQTT-3.1.2-1], 5 [MQTT-3.1.2-1]: a server must not go on as MQTT with a
    # protocol name other than "MQTT"; answering "bad user name or password" would
    # send an installer after the wrong thing.
    body = connect_body(level, name="MQTX", flags=0xC2, payload=text("c") + text("u") + text("p"))
    try:
        connect = parse(1, 0, body, protocol_level=MQTT_5)
    except MalformedPacket:
        return
    assert isinstance(connect, Connect)
    assert connect.protocol_level not in LEVELS


# -- PUBLISH -------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_paho_publishes_at_qos_0_and_1(paho: Callable[..., PahoPeer], protocol: int) -> None:
    peer = paho(protocol)
    peer.receive()
    peer.accepted()
    peer.client.publish(TELEMETRY, b'{"spindle_speed": 8000}', qos=0)
    assert peer.receive() == Publish(TELEMETRY, b'{"spindle_speed": 8000}', qos=0,
                                     retain=False, dup=False, packet_id=None)  # fmt: skip
    mid = peer.client.publish(TELEMETRY, b"[]", qos=1, retain=True).mid
    assert peer.receive() == Publish(TELEMETRY, b"[]", qos=1, retain=True, dup=False,
                                     packet_id=mid)  # fmt: skip
    # An empty payload and a long one (a three-byte remaining length).
    big = bytes(range(256)) * 100
    for payload in (b"", big):
        mid = peer.client.publish("v1/devices/me/rpc/response/42", payload, qos=1).mid
        message = peer.receive()
        assert isinstance(message, Publish)
        assert (message.payload, message.packet_id) == (payload, mid)


def test_paho_5_publishes_with_properties(paho: Callable[..., PahoPeer]) -> None:
    peer = paho(mqtt.MQTTv5)
    peer.receive()
    peer.accepted()
    sent = properties(
        PacketTypes.PUBLISH,
        PayloadFormatIndicator=1,
        MessageExpiryInterval=60,
        ContentType="application/json",
        ResponseTopic="v1/devices/me/rpc/response/1",
        CorrelationData=b"\x00\x01\x02",
        UserProperty=[("firmware", "4.2"), ("ümlaut", "ß")],
    )
    mid = peer.client.publish(TELEMETRY, b'{"a": 1}', qos=1, properties=sent).mid
    assert peer.receive() == Publish(
        TELEMETRY,
        b'{"a": 1}',
        qos=1,
        retain=False,
        dup=False,
        packet_id=mid,
        properties={
            0x01: 1,
            0x02: 60,
            0x03: "application/json",
            0x08: "v1/devices/me/rpc/response/1",
            0x09: b"\x00\x01\x02",
            Property.USER_PROPERTY: [("firmware", "4.2"), ("ümlaut", "ß")],
        },
    )
    # A topic alias is read, so that the endpoint can refuse it (its maximum is 0).
    peer.client.publish(TELEMETRY, b"{}", qos=0,
                        properties=properties(PacketTypes.PUBLISH, TopicAlias=3))  # fmt: skip
    aliased = peer.receive()
    assert isinstance(aliased, Publish)
    assert aliased.properties == {Property.TOPIC_ALIAS: 3}


def test_a_5_publish_whose_payload_looks_like_properties_keeps_it_as_payload() -> None:
    # The property length says where the payload starts: bytes after it are never
    # taken for properties.
    body = publish_body(5, properties=b"\x00", payload=b"\x02\x23\x00\x01")
    message = parse(3, 0b0010, body, protocol_level=MQTT_5)
    assert isinstance(message, Publish)
    assert message.properties == {}
    assert message.payload == b"\x02\x23\x00\x01"


def test_a_dup_publish_is_marked_and_the_same_bytes_at_3_1_1_hold_no_properties() -> None:
    body = publish_body(5, properties=b"\x05\x02\x00\x00\x00\x3c", payload=b"{}")
    as_5 = parse(3, 0b1010, body, protocol_level=MQTT_5)
    as_3 = parse(3, 0b1010, body, protocol_level=MQTT_3_1_1)
    assert isinstance(as_5, Publish)
    assert isinstance(as_3, Publish)
    assert (as_5.dup, as_5.properties, as_5.payload) == (True, {0x02: 60}, b"{}")
    assert (as_3.properties, as_3.payload) == ({}, b"\x05\x02\x00\x00\x00\x3c{}")


# -- SUBSCRIBE, UNSUBSCRIBE, acknowledgements, DISCONNECT -----------------------------


def test_paho_3_1_1_subscribes_and_unsubscribes(paho: Callable[..., PahoPeer]) -> None:
    peer = paho(mqtt.MQTTv311)
    peer.receive()
    peer.accepted()
    _, mid = peer.client.subscribe([(RPC_REQUESTS, 1), ("v1/devices/+/telemetry", 0), ("#", 2)])
    assert peer.receive() == Subscribe(
        mid or 0, [(RPC_REQUESTS, 1), ("v1/devices/+/telemetry", 0), ("#", 2)]
    )
    _, mid = peer.client.unsubscribe([RPC_REQUESTS, "#"])
    assert peer.receive() == Unsubscribe(mid or 0, [RPC_REQUESTS, "#"])


def test_paho_5_subscribes_with_options_and_properties(paho: Callable[..., PahoPeer]) -> None:
    peer = paho(mqtt.MQTTv5)
    peer.receive()
    peer.accepted()
    options = SubscribeOptions(qos=1, noLocal=True, retainAsPublished=True,
                               retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)  # fmt: skip
    _, mid = peer.client.subscribe(
        [(RPC_REQUESTS, options), ("spBv1.0/plant/DCMD/edge", SubscribeOptions(qos=0))],
        properties=properties(
            PacketTypes.SUBSCRIBE, SubscriptionIdentifier=300, UserProperty=[("k", "v")]
        ),
    )
    # Only the requested QoS is kept of the options byte.
    assert peer.receive() == Subscribe(
        mid or 0, [(RPC_REQUESTS, 1), ("spBv1.0/plant/DCMD/edge", 0)]
    )
    _, mid = peer.client.unsubscribe(
        [RPC_REQUESTS], properties=properties(PacketTypes.UNSUBSCRIBE, UserProperty=[("k", "v")])
    )
    assert peer.receive() == Unsubscribe(mid or 0, [RPC_REQUESTS])


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_paho_disconnects(paho: Callable[..., PahoPeer], protocol: int) -> None:
    peer = paho(protocol)
    peer.receive()
    peer.accepted()
    if protocol == mqtt.MQTTv5:
        peer.client.disconnect(
            PahoReason(PacketTypes.DISCONNECT, "Disconnect with will message"),
            properties(PacketTypes.DISCONNECT, ReasonString="shutting down"),
        )
        assert peer.receive() == Control(PacketType.DISCONNECT, 0x04)
    else:
        peer.client.disconnect()
        assert peer.receive() == Control(PacketType.DISCONNECT, ReasonCode.SUCCESS)


@pytest.mark.parametrize("level", LEVELS)
def test_pingreq_and_the_acknowledgements_a_client_sends(level: int) -> None:
    stream = (
        frame(12, 0, b"")
        + frame(4, 0, b"\x00\x09")
        + frame(5, 0, b"\x00\x0a")
        + frame(6, 0b0010, b"\x00\x0b")
        + frame(7, 0, b"\x00\x0c")
        + frame(14, 0, b"")
    )
    assert read_all(stream, level) == [
        Control(PacketType.PINGREQ),
        Acknowledgement(PacketType.PUBACK, 9),
        Acknowledgement(PacketType.PUBREC, 10),
        Acknowledgement(PacketType.PUBREL, 11),
        Acknowledgement(PacketType.PUBCOMP, 12),
        Control(PacketType.DISCONNECT),
    ]


def test_5_acknowledgements_and_disconnect_carry_their_reason() -> None:
    # 5 section 3.4.2.1: a reason code, then (optionally) properties.
    reason_string = b"\x1f" + text("no")
    assert parse(4, 0, b"\x00\x09\x10", protocol_level=MQTT_5) == Acknowledgement(
        PacketType.PUBACK, 9, 0x10
    )
    assert parse(4, 0, b"\x00\x09\x80" + varint(len(reason_string)) + reason_string,
                 protocol_level=MQTT_5) == Acknowledgement(PacketType.PUBACK, 9, 0x80)  # fmt: skip
    assert parse(14, 0, b"\x8e\x00", protocol_level=MQTT_5) == Control(PacketType.DISCONNECT, 0x8E)


# -- the builders --------------------------------------------------------------------


def test_connack_3_1_1_has_return_codes_and_no_properties() -> None:
    # 3.1.1 section 3.2: remaining length 2, acknowledge flags, return code.
    for reason, code in [
        (ReasonCode.SUCCESS, 0x00),
        (ReasonCode.UNSUPPORTED_PROTOCOL_VERSION, 0x01),
        (ReasonCode.CLIENT_IDENTIFIER_NOT_VALID, 0x02),
        (ReasonCode.SERVER_UNAVAILABLE, 0x03),
        (ReasonCode.SERVER_BUSY, 0x03),
        (ReasonCode.BAD_USER_NAME_OR_PASSWORD, 0x04),
        (ReasonCode.NOT_AUTHORIZED, 0x05),
    ]:
        assert connack(MQTT_3_1_1, reason, properties={Property.MAXIMUM_QOS: 1}) == bytes(
            [0x20, 0x02, 0x00, code]
        ), reason.name


def test_connack_5_carries_the_reason_code_and_properties() -> None:
    assert connack(MQTT_5, ReasonCode.BAD_USER_NAME_OR_PASSWORD) == b"\x20\x03\x00\x86\x00"
    assert connack(MQTT_5, ReasonCode.UNSUPPORTED_PROTOCOL_VERSION) == b"\x20\x03\x00\x84\x00"
    accepted = connack(
        MQTT_5,
        ReasonCode.SUCCESS,
        properties={
            Property.MAXIMUM_QOS: 1,
            Property.RETAIN_AVAILABLE: 0,
            Property.SERVER_KEEP_ALIVE: 30,
            Property.MAXIMUM_PACKET_SIZE: 1_048_576,
            Property.ASSIGNED_CLIENT_IDENTIFIER: "eq-1",
        },
    )
    props = b"\x24\x01" + b"\x25\x00" + b"\x13\x00\x1e" + b"\x27\x00\x10\x00\x00"
    props += b"\x12" + text("eq-1")
    assert accepted == b"\x20" + varint(3 + len(props)) + b"\x00\x00" + varint(len(props)) + props


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_paho_takes_the_connack_it_is_sent(paho: Callable[..., PahoPeer], protocol: int) -> None:
    peer = paho(protocol, configure=lambda c: c.username_pw_set("machine", "wrong"))
    peer.receive()
    _, flags, reason, _ = peer.answer(connack(peer.level, ReasonCode.BAD_USER_NAME_OR_PASSWORD))
    assert reason == PahoReason(PacketTypes.CONNACK, "Bad user name or password")
    assert flags.session_present is False

    peer = paho(protocol)
    peer.receive()
    offered = {
        Property.MAXIMUM_QOS: 1,
        Property.RETAIN_AVAILABLE: 0,
        Property.MAXIMUM_PACKET_SIZE: 1_048_576,
        Property.ASSIGNED_CLIENT_IDENTIFIER: "eq-1",
        Property.SESSION_EXPIRY_INTERVAL: 0,
    }
    _, flags, reason, sent = peer.answer(
        connack(peer.level, ReasonCode.SUCCESS, properties=offered)
    )
    assert reason == 0
    assert peer.client.is_connected()
    if protocol == mqtt.MQTTv5:
        assert (sent.MaximumQoS, sent.RetainAvailable, sent.MaximumPacketSize) == (1, 0, 1 << 20)
        assert (sent.AssignedClientIdentifier, sent.SessionExpiryInterval) == ("eq-1", 0)


def test_puback_3_1_1_is_the_packet_id_whatever_the_reason() -> None:
    # 3.1.1 section 3.4: remaining length 2; there is no room for a refusal.
    for reason in (ReasonCode.SUCCESS, ReasonCode.NOT_AUTHORIZED, ReasonCode.QUOTA_EXCEEDED):
        built = acknowledgement(MQTT_3_1_1, PacketType.PUBACK, 0x1234, reason,
                                reason_string="nothing accepted")  # fmt: skip
        assert built == b"\x40\x02\x12\x34"
    assert acknowledgement(MQTT_3_1_1, PacketType.PUBREC, 7) == b"\x50\x02\x00\x07"
    assert acknowledgement(MQTT_3_1_1, PacketType.PUBREL, 7) == b"\x62\x02\x00\x07"
    assert acknowledgement(MQTT_3_1_1, PacketType.PUBCOMP, 7) == b"\x70\x02\x00\x07"


def test_puback_5_carries_a_refusal_and_its_reason_string() -> None:
    # 5 section 3.4.2.1: success without properties may be the packet id alone.
    assert acknowledgement(MQTT_5, PacketType.PUBACK, 7) == b"\x40\x02\x00\x07"
    refused = acknowledgement(MQTT_5, PacketType.PUBACK, 7, ReasonCode.PAYLOAD_FORMAT_INVALID,
                              reason_string="telemetry is JSON")  # fmt: skip
    props = b"\x1f" + text("telemetry is JSON")
    body = b"\x00\x07\x99" + varint(len(props)) + props
    assert refused == b"\x40" + varint(len(body)) + body
    assert acknowledgement(MQTT_5, PacketType.PUBACK, 7, ReasonCode.NOT_AUTHORIZED) == (
        b"\x40\x04\x00\x07\x87\x00"
    )
    # A success with a detail (points partly refused) keeps the detail.
    partly = acknowledgement(MQTT_5, PacketType.PUBACK, 7, reason_string="1 points accepted")
    assert puback_reason(partly) == (0x00, "1 points accepted")
    # A reason string is cut short: a client's maximum packet size may be small.
    long = acknowledgement(MQTT_5, PacketType.PUBACK, 7, ReasonCode.PAYLOAD_FORMAT_INVALID,
                           reason_string="x" * 5000)  # fmt: skip
    assert puback_reason(long) == (0x99, "x" * 512)


def puback_reason(packet: bytes) -> tuple[int, str]:
    """The reason code and reason string of an MQTT 5 PUBACK, its properties read by
    paho's Properties."""
    length_bytes = next(n for n, byte in enumerate(packet[1:5], 1) if not byte & 0x80)
    body = packet[1 + length_bytes :]
    assert varint(len(body)) == packet[1 : 1 + length_bytes]
    read = Properties(PacketTypes.PUBACK)
    read.unpack(body[3:])
    return body[2], str(getattr(read, "ReasonString", ""))


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_paho_takes_the_pubacks_it_is_sent(paho: Callable[..., PahoPeer], protocol: int) -> None:
    peer = paho(protocol)
    peer.receive()
    peer.accepted()
    mid = peer.client.publish(TELEMETRY, b"{not json", qos=1).mid
    packet = peer.receive()
    assert isinstance(packet, Publish)
    assert packet.packet_id == mid
    refusal = acknowledgement(peer.level, PacketType.PUBACK, mid,
                              ReasonCode.PAYLOAD_FORMAT_INVALID,
                              reason_string="telemetry is JSON")  # fmt: skip
    _, acked, reason, sent = peer.answer(refusal)
    assert acked == mid
    if protocol == mqtt.MQTTv5:
        assert reason.value == 0x99
        assert sent.ReasonString == "telemetry is JSON"
    else:
        assert reason == 0  # 3.1.1: an acknowledgement is all there is


def test_suback_3_1_1_has_0x80_for_every_refusal() -> None:
    # 3.1.1 section 3.9.3: 0x00, 0x01, 0x02 or 0x80 (failure).
    granted = [ReasonCode.GRANTED_QOS_1, ReasonCode.NOT_AUTHORIZED, ReasonCode.SUCCESS,
               ReasonCode.TOPIC_FILTER_INVALID]  # fmt: skip
    assert suback(MQTT_3_1_1, 0x0102, granted) == b"\x90\x06\x01\x02\x01\x80\x00\x80"
    # 5 section 3.9: properties (none), then one reason code per filter.
    assert suback(MQTT_5, 0x0102, granted) == b"\x90\x07\x01\x02\x00\x01\x87\x00\x8f"


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_paho_takes_the_suback_and_unsuback_it_is_sent(
    paho: Callable[..., PahoPeer], protocol: int
) -> None:
    peer = paho(protocol)
    peer.receive()
    peer.accepted()
    _, mid = peer.client.subscribe([(RPC_REQUESTS, 1), ("#", 1)])
    peer.receive()
    _, acked, reasons, _ = peer.answer(
        suback(peer.level, mid or 0, [ReasonCode.GRANTED_QOS_1, ReasonCode.NOT_AUTHORIZED])
    )
    assert acked == mid
    refused = 0x87 if protocol == mqtt.MQTTv5 else 0x80
    assert [reason.value for reason in reasons] == [1, refused]
    _, mid = peer.client.unsubscribe([RPC_REQUESTS, "#"])
    peer.receive()
    _, acked, reasons, _ = peer.answer(
        unsuback(peer.level, mid or 0, [ReasonCode.SUCCESS, ReasonCode.NO_SUBSCRIPTION_EXISTED])
    )
    assert acked == mid
    if protocol == mqtt.MQTTv5:
        assert [reason.value for reason in reasons] == [0x00, 0x11]


def test_unsuback_has_reason_codes_in_5_only() -> None:
    reasons = [ReasonCode.SUCCESS, ReasonCode.NO_SUBSCRIPTION_EXISTED]
    assert unsuback(MQTT_3_1_1, 3, reasons) == b"\xb0\x02\x00\x03"
    assert unsuback(MQTT_5, 3, reasons) == b"\xb0\x05\x00\x03\x00\x00\x11"


def test_a_server_disconnect_exists_in_5_only() -> None:
    # 3.1.1 section 3.14: DISCONNECT is sent by the client; the server just closes.
    assert disconnect(MQTT_3_1_1, ReasonCode.PACKET_TOO_LARGE, "too large") is None
    assert disconnect(MQTT_5, ReasonCode.PACKET_TOO_LARGE) == b"\xe0\x02\x95\x00"
    assert disconnect(MQTT_5, ReasonCode.NOT_AUTHORIZED, "revoked") == (
        b"\xe0\x0c\x87\x0a\x1f" + text("revoked")
    )
    assert pingresp() == b"\xd0\x00"


def test_paho_takes_the_servers_disconnect(paho: Callable[..., PahoPeer]) -> None:
    peer = paho(mqtt.MQTTv5)
    peer.receive()
    peer.accepted()
    farewell = disconnect(MQTT_5, ReasonCode.PACKET_TOO_LARGE, "a packet of 2000000 bytes")
    assert farewell is not None
    _, reason, sent = peer.answer(farewell)
    assert reason == PahoReason(PacketTypes.DISCONNECT, "Packet too large")
    assert sent.ReasonString == "a packet of 2000000 bytes"


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_paho_takes_a_command_and_acknowledges_it(
    paho: Callable[..., PahoPeer], protocol: int
) -> None:
    peer = paho(protocol)
    peer.receive()
    peer.accepted()
    payload = b'{"method": "set_speed", "params": {"rpm": 8000}}' * 10  # two-byte length
    heard = peer.answer(publish(peer.level, "v1/devices/me/rpc/request/c-1", payload, qos=1,
                                packet_id=65535))  # fmt: skip
    message = heard[1]
    assert (message.topic, message.payload, message.qos, message.mid) == (
        "v1/devices/me/rpc/request/c-1",
        payload,
        1,
        65535,
    )
    # paho answers QoS 1 with its PUBACK: the machine's receipt of the command.
    assert peer.receive() == Acknowledgement(PacketType.PUBACK, 65535)
    heard = peer.answer(publish(peer.level, "spBv1.0/g/NCMD/e", b"\x00", qos=0, packet_id=0))
    assert (heard[1].topic, heard[1].payload, heard[1].qos) == ("spBv1.0/g/NCMD/e", b"\x00", 0)


# -- malformed packets ---------------------------------------------------------------

FULL_CONNECT_3 = connect_body(4, flags=0xEE, payload=text("c") + text("w/t") + text(b"bye")
                              + text("user") + text(b"pw"))  # fmt: skip
CONNECT_PROPERTIES = b"\x11\x00\x00\x0e\x10" + b"\x26" + text("k") + text("v")
FULL_CONNECT_5 = connect_body(
    5,
    flags=0xEE,
    properties=varint(len(CONNECT_PROPERTIES)) + CONNECT_PROPERTIES,
    # The will's properties: a will delay interval (0x18) of 5 s.
    payload=text("c")
    + b"\x05\x18\x00\x00\x00\x05"
    + text("w/t")
    + text(b"bye")
    + text("u")
    + text(b"pw"),
)
PUBLISH_5 = publish_body(5, properties=b"\x08\x02\x00\x00\x00\x3c\x23\x00\x01", payload=b"")
SUBSCRIBE_5 = subscribe_body(5, (RPC_REQUESTS, 1), properties=b"\x02\x0b\x07")


@pytest.mark.parametrize(
    ("kind", "flags", "body", "level"),
    [
        (1, 0, FULL_CONNECT_3, 4),
        (1, 0, FULL_CONNECT_5, 5),
        (3, 0b0010, PUBLISH_5, 5),
        (3, 0b0010, publish_body(4, payload=b""), 4),
        (8, 0b0010, SUBSCRIBE_5, 5),
        (8, 0b0010, subscribe_body(4, (RPC_REQUESTS, 1)), 4),
        (10, 0b0010, b"\x00\x05\x00" + text(RPC_REQUESTS), 5),
        (4, 0, b"\x00\x09", 4),
    ],
    ids=[
        "connect-3",
        "connect-5",
        "publish-5",
        "publish-3",
        "subscribe-5",
        "subscribe-3",
        "unsubscribe-5",
        "puback",
    ],
)
def test_a_packet_cut_short_anywhere_is_malformed(
    kind: int, flags: int, body: bytes, level: int
) -> None:
    parse(kind, flags, body, protocol_level=level)  # whole, it is fine
    for end in range(len(body)):
        with pytest.raises(MalformedPacket):
            parse(kind, flags, body[:end], protocol_level=level)


MALFORMED: dict[str, tuple[int, int, bytes, int]] = {
    "properties longer than the packet": (3, 0b0010, publish_body(5, properties=b"\x32\x02"), 5),
    "a property running past the properties' length": (
        3,
        0b0010,
        publish_body(5, properties=b"\x02\x02\x00\x00\x00\x3c"),
        5,
    ),
    "a property length of five bytes": (
        3,
        0,
        publish_body(5, packet_id=None, properties=b"\x80\x80\x80\x80\x01"),
        5,
    ),
    "a property value cut short": (
        3,
        0,
        publish_body(5, packet_id=None, properties=b"\x03\x02\x00\x00", payload=b""),
        5,
    ),
    "a duplicate property": (3, 0b0010, publish_body(5, properties=b"\x04\x01\x01\x01\x00"), 5),
    "a duplicate connect property": (
        1,
        0,
        connect_body(5, properties=b"\x06\x21\x00\x01\x21\x00\x02"),
        5,
    ),
    "an unknown property": (3, 0b0010, publish_body(5, properties=b"\x02\x04\x00"), 5),
    "an unknown property of a two-byte id": (
        3,
        0b0010,
        publish_body(5, properties=b"\x03\x80\x01\x00"),
        5,
    ),
    "an unknown connect property": (1, 0, connect_body(5, properties=b"\x02\x7f\x00"), 5),
    "an unknown will property": (
        1,
        0,
        connect_body(5, flags=0x06, payload=text("c") + b"\x02\x2c\x00" + text("t") + text(b"p")),
        5,
    ),
    "an unknown subscribe property": (
        8,
        0b0010,
        subscribe_body(5, (RPC_REQUESTS, 1), properties=b"\x02\x05\x00"),
        5,
    ),
    "a user property without its value": (
        3,
        0b0010,
        publish_body(5, properties=b"\x04\x26" + text("k"), payload=b""),
        5,
    ),
    "invalid UTF-8 in a topic": (3, 0, text(b"v1/\xff\xfe") + b"{}", 4),
    "a UTF-16 surrogate in a topic": (3, 0, text(b"v1/\xed\xa0\x80") + b"{}", 4),
    "an overlong U+0000 in a topic": (3, 0, text(b"v1/\xc0\x80") + b"{}", 4),
    "invalid UTF-8 in a client id": (1, 0, connect_body(4, payload=text(b"\xc3\x28")), 4),
    "invalid UTF-8 in a user name": (
        1,
        0,
        connect_body(4, flags=0x82, payload=text("c") + text(b"\xe2\x82")),
        4,
    ),
    "invalid UTF-8 in a user property": (
        1,
        0,
        connect_body(5, properties=b"\x07\x26" + text(b"\xff") + text("v")),
        5,
    ),
    "invalid UTF-8 in a topic filter": (8, 0b0010, subscribe_body(4) + text(b"\x80") + b"\x01", 4),
    "U+0000 in a topic": (3, 0, text("v1/devices/me\x00/telemetry") + b"{}", 4),
    "U+0000 in a client id": (1, 0, connect_body(4, payload=text("mill\x00")), 4),
    "U+0000 in a will topic": (
        1,
        0,
        connect_body(4, flags=0x06, payload=text("c") + text("\x00") + text(b"")),
        4,
    ),
    "U+0000 in a user property": (
        1,
        0,
        connect_body(5, properties=b"\x07\x26" + text("\x00") + text("v")),
        5,
    ),
    "U+0000 in an unsubscribe filter": (10, 0b0010, b"\x00\x01" + text("a\x00"), 4),
    "a publish at QoS 3": (3, 0b0110, publish_body(4), 4),
    "a publish at QoS 3 with dup and retain": (3, 0b1111, publish_body(5), 5),
    "the reserved connect flag": (1, 0, connect_body(4, flags=0x03), 4),
    "a subscribe with flags 0": (8, 0, subscribe_body(4, (RPC_REQUESTS, 1)), 4),
    "a subscribe with flags 0b0011": (8, 0b0011, subscribe_body(4, (RPC_REQUESTS, 1)), 4),
    "an unsubscribe with flags 0": (10, 0, b"\x00\x01" + text("a"), 4),
    "a puback with flags 0b0010": (4, 0b0010, b"\x00\x01", 4),
    "a pubrel with flags 0": (6, 0, b"\x00\x01", 4),
    "a subscribe without filters": (8, 0b0010, subscribe_body(5), 5),
    "an unsubscribe without filters": (10, 0b0010, b"\x00\x01\x00", 5),
    "a subscribe filter without options": (8, 0b0010, subscribe_body(4) + text("a"), 4),
    "packet type 0": (0, 0, b"", 4),
    "a connack from a client": (2, 0, b"\x00\x00", 4),
    "a suback from a client": (9, 0, b"\x00\x01\x00", 5),
    "an unsuback from a client": (11, 0, b"\x00\x01", 4),
    "a pingresp from a client": (13, 0, b"", 5),
    "an empty connect": (1, 0, b"", 4),
    "a connect without a client id": (1, 0, connect_body(4, payload=b""), 4),
    "a connect whose password runs past the packet": (
        1,
        0,
        connect_body(4, flags=0xC2, payload=text("c") + text("u") + b"\x00\x09pw"),
        4,
    ),
}


@pytest.mark.parametrize(("kind", "flags", "body", "level"), MALFORMED.values(), ids=MALFORMED)
def test_malformed_packets_raise_malformed_packet(
    kind: int, flags: int, body: bytes, level: int
) -> None:
    with pytest.raises(MalformedPacket):
        parse(kind, flags, body, protocol_level=level)


def test_repeated_user_properties_are_no_duplicates() -> None:
    props = b"\x26" + text("a") + text("1") + b"\x26" + text("a") + text("2")
    message = parse(3, 0, publish_body(5, packet_id=None, properties=varint(len(props)) + props),
                    protocol_level=MQTT_5)  # fmt: skip
    assert isinstance(message, Publish)
    assert message.properties == {Property.USER_PROPERTY: [("a", "1"), ("a", "2")]}


# What the specifications call malformed (or a protocol error that closes the
# connection), each rule by its number.
SPECIFIED_MALFORMED: dict[str, tuple[int, int, bytes, int]] = {
    # [MQTT-2.2.2-2]: reserved fixed-header flags other than the table's close the
    # connection; CONNECT, PINGREQ and DISCONNECT have flags 0.
    "a connect with flags 0b0001": (1, 0b0001, connect_body(4), 4),
    "a connect with flags 0b1111": (1, 0b1111, connect_body(5), 5),
    "a pingreq with flags 0b0010": (12, 0b0010, b"", 4),
    "a disconnect with flags 0b0001": (14, 0b0001, b"", 5),
    # 3.1.1 [MQTT-3.1.2-14], 5 section 3.1.2.6: a will QoS of 3 is malformed.
    "a will at QoS 3": (
        1,
        0,
        connect_body(4, flags=0x1E, payload=text("c") + text("w") + text(b"bye")),
        4,
    ),
    # 3.1.1 [MQTT-3.1.2-13], [MQTT-3.1.2-15], 5 [MQTT-3.1.2-11], [MQTT-3.1.2-13]:
    # without a will, its QoS and retain flags are 0.
    "a will QoS without a will": (1, 0, connect_body(4, flags=0x0A), 4),
    "will retain without a will": (1, 0, connect_body(5, flags=0x22), 5),
    # 3.1.1 [MQTT-3.1.2-22]: no password without a user name.
    "a 3.1.1 password without a user name": (
        1,
        0,
        connect_body(4, flags=0x42, payload=text("c") + text(b"pw")),
        4,
    ),
    # 3.1.1 [MQTT-3-8.3-4], 5 [MQTT-3.8.3-5]: a requested QoS of 3, or reserved bits
    # set in the subscription options, is malformed.
    "a subscription at QoS 3": (8, 0b0010, subscribe_body(4, (RPC_REQUESTS, 3)), 4),
    "3.1.1 subscription options with reserved bits": (
        8,
        0b0010,
        subscribe_body(4, (RPC_REQUESTS, 0x05)),
        4,
    ),
    "5 subscription options with reserved bits": (
        8,
        0b0010,
        subscribe_body(5, (RPC_REQUESTS, 0xC1)),
        5,
    ),
    "5 retain handling 3": (8, 0b0010, subscribe_body(5, (RPC_REQUESTS, 0x31)), 5),
    # 3.1.1 [MQTT-2.3.1-1], 5 section 2.2.1: packet identifiers are non-zero.
    "a publish at QoS 1 with packet id 0": (3, 0b0010, publish_body(4, packet_id=0), 4),
    "a subscribe with packet id 0": (8, 0b0010, b"\x00\x00" + text("a") + b"\x01", 4),
    # Bytes left over after the last field: the fields were not what they said.
    "a connect with bytes after its payload": (1, 0, connect_body(4) + b"\x00\x01x", 4),
    "a pingreq with a body": (12, 0, b"\x00", 4),
    # 5: the properties after a reason code are as strict as anywhere else.
    "5 puback properties longer than the packet": (4, 0, b"\x00\x01\x00\x09\x1f", 5),
    "5 disconnect with an unknown property": (14, 0, b"\x00\x02\x7f\x00", 5),
}


@pytest.mark.parametrize(
    ("kind", "flags", "body", "level"), SPECIFIED_MALFORMED.values(), ids=SPECIFIED_MALFORMED
)
def test_packets_the_specifications_call_malformed_are_refused(
    kind: int, flags: int, body: bytes, level: int
) -> None:
    with pytest.raises(MalformedPacket):
        parse(kind, flags, body, protocol_level=level)


# -- reading from the stream ---------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "length_bytes"),
    [(0, 1), (127, 1), (128, 2), (16_383, 2), (16_384, 3), (2_097_151, 3), (2_097_152, 4)],
)
def test_remaining_lengths_of_one_to_four_bytes(size: int, length_bytes: int) -> None:
    # 3.1.1 section 2.2.3, 5 section 1.5.5: the boundaries of the encoding.
    if size == 0:
        assert read_one(b"\xc0\x00", MQTT_3_1_1) == Control(PacketType.PINGREQ)
        return
    body = text("t") + b"x" * (size - 3)
    packet = frame(3, 0, body)
    assert packet[1 : 1 + length_bytes] == varint(size)
    assert len(packet) == 1 + length_bytes + size
    read = read_one(packet, MQTT_3_1_1, max_bytes=4 << 20)
    assert isinstance(read, Publish)
    assert (read.topic, len(read.payload)) == ("t", size - 3)


def test_a_remaining_length_of_five_bytes_is_malformed() -> None:
    # 268,435,455 takes four bytes; a fifth is never needed.
    with pytest.raises(MalformedPacket):
        read_all(b"\x30\xff\xff\xff\xff\x01" + b"x" * 10, MQTT_5)
    with pytest.raises(MalformedPacket):
        read_all(b"\x30\x80\x80\x80\x80\x00", MQTT_3_1_1)


def test_a_packet_over_the_limit_raises_before_its_body_is_read() -> None:
    async def read(data: bytes, max_bytes: int) -> Packet:
        # No end of the stream: had the body been awaited, this would time out.
        return await asyncio.wait_for(
            read_packet(feed(data, eof=False), protocol_level=MQTT_5, max_bytes=max_bytes), 1
        )

    with pytest.raises(PacketTooLarge, match="1025 bytes; at most 1024"):
        asyncio.run(read(b"\x30" + varint(1025), 1024))
    with pytest.raises(PacketTooLarge):
        asyncio.run(read(b"\x30\xff\xff\xff\x7f", 1 << 20))
    exactly = publish_body(5, packet_id=None, payload=b"")
    exactly += b"x" * (1024 - len(exactly))
    message = asyncio.run(read(frame(3, 0, exactly), 1024))
    assert isinstance(message, Publish)
    assert len(message.payload) == 1024 - len(text(TELEMETRY)) - 1


def test_a_stream_ending_inside_a_packet_is_the_peer_leaving() -> None:
    async def read(data: bytes) -> Packet:
        return await read_packet(feed(data), protocol_level=MQTT_5, max_bytes=1 << 20)

    for cut in (b"", b"\x30", b"\x30\x80", b"\x30\x0a\x00"):
        with pytest.raises(asyncio.IncompleteReadError):
            asyncio.run(read(cut))


# -- whatever the bytes --------------------------------------------------------------

USER_PROPERTY = b"\x26" + text("a") + text("b")
SEEDS = [
    (1, 0, FULL_CONNECT_3),
    (1, 0, FULL_CONNECT_5),
    (3, 0b0010, PUBLISH_5),
    # A user property and a subscription identifier (a variable byte integer).
    (3, 0b1011, publish_body(5, properties=b"\x0a" + USER_PROPERTY + b"\x0b\x81\x01")),
    (3, 0, publish_body(4, packet_id=None)),
    (8, 0b0010, SUBSCRIBE_5),
    (8, 0b0010, subscribe_body(4, ("a/+", 1), ("#", 0))),
    (10, 0b0010, b"\x00\x05\x07" + USER_PROPERTY + text("a/b")),
    (4, 0, b"\x00\x09\x80\x05\x1f" + text("no")),
    (14, 0, b"\x8e\x00"),
]


def _parses_or_is_malformed(kind: int, flags: int, body: bytes, level: int) -> None:
    with contextlib.suppress(MalformedPacket):
        parse(kind, flags, body, protocol_level=level)


FUZZ = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@FUZZ
@given(
    kind=st.integers(0, 15),
    flags=st.integers(0, 15),
    body=st.binary(max_size=200),
    level=st.sampled_from(LEVELS),
)
def test_arbitrary_bytes_parse_or_raise_malformed_packet(
    kind: int, flags: int, body: bytes, level: int
) -> None:
    _parses_or_is_malformed(kind, flags, body, level)


@FUZZ
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, 200),
    tail=st.binary(max_size=8),
    level=st.sampled_from(LEVELS),
)
def test_valid_packets_with_bytes_changed_parse_or_raise_malformed_packet(
    seed: tuple[int, int, bytes],
    edits: list[tuple[int, int]],
    cut: int,
    tail: bytes,
    level: int,
) -> None:
    kind, flags, body = seed
    changed = bytearray(body)
    for position, value in edits:
        changed[position % len(changed)] = value
    _parses_or_is_malformed(kind, flags, bytes(changed[: len(changed) - cut % 4]) + tail, level)


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(data=st.binary(max_size=64), level=st.sampled_from(LEVELS))
def test_an_arbitrary_stream_reads_or_raises_what_the_endpoint_handles(
    data: bytes, level: int
) -> None:
    with contextlib.suppress(MalformedPacket, PacketTooLarge, asyncio.IncompleteReadError):
        read_all(data, level, max_bytes=32)
