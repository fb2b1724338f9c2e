"""The MQTT packets a device endpoint reads and writes, in MQTT 3.1.1 (protocol level
4) and MQTT 5 (level 5): the wire format of OASIS's two specifications.

Only the server's side: packets a client sends are parsed, packets a server sends are
built. MQTT 5 properties are read by their type and kept by id; the endpoint uses a
few of them (reason strings, session expiry), the rest are skipped correctly.
No maintained Python library covers both protocol levels on the server side (aMQTT
speaks 3.1.1 and brings a broker; mqtt5 speaks 5 only), so this is written out here,
short and strict: a packet that breaks the format raises MalformedPacket.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from enum import IntEnum

MQTT_3_1_1 = 4
MQTT_5 = 5


class PacketType(IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15


class ReasonCode(IntEnum):
    """MQTT 5 reason codes (section 2.4) that the endpoint answers with."""

    SUCCESS = 0x00
    GRANTED_QOS_1 = 0x01
    NO_SUBSCRIPTION_EXISTED = 0x11
    UNSPECIFIED_ERROR = 0x80
    MALFORMED_PACKET = 0x81
    PROTOCOL_ERROR = 0x82
    IMPLEMENTATION_SPECIFIC_ERROR = 0x83
    UNSUPPORTED_PROTOCOL_VERSION = 0x84
    CLIENT_IDENTIFIER_NOT_VALID = 0x85
    BAD_USER_NAME_OR_PASSWORD = 0x86
    NOT_AUTHORIZED = 0x87
    SERVER_UNAVAILABLE = 0x88
    SERVER_BUSY = 0x89
    SERVER_SHUTTING_DOWN = 0x8B
    KEEP_ALIVE_TIMEOUT = 0x8D
    SESSION_TAKEN_OVER = 0x8E
    TOPIC_FILTER_INVALID = 0x8F
    TOPIC_NAME_INVALID = 0x90
    PACKET_TOO_LARGE = 0x95
    QUOTA_EXCEEDED = 0x97
    PAYLOAD_FORMAT_INVALID = 0x99
    RETAIN_NOT_SUPPORTED = 0x9A
    QOS_NOT_SUPPORTED = 0x9B
    TOPIC_ALIAS_INVALID = 0x94


# MQTT 3.1.1's CONNACK return codes (section 3.2.2.3), for the same refusals.
CONNACK_3_1_1 = {
    ReasonCode.SUCCESS: 0,
    ReasonCode.UNSUPPORTED_PROTOCOL_VERSION: 1,
    ReasonCode.CLIENT_IDENTIFIER_NOT_VALID: 2,
    ReasonCode.SERVER_UNAVAILABLE: 3,
    ReasonCode.SERVER_BUSY: 3,
    ReasonCode.BAD_USER_NAME_OR_PASSWORD: 4,
    ReasonCode.NOT_AUTHORIZED: 5,
}
SUBACK_FAILURE_3_1_1 = 0x80


class Property(IntEnum):
    """MQTT 5 property identifiers (section 2.2.2.2) the endpoint reads or writes."""

    SESSION_EXPIRY_INTERVAL = 0x11
    ASSIGNED_CLIENT_IDENTIFIER = 0x12
    SERVER_KEEP_ALIVE = 0x13
    REASON_STRING = 0x1F
    RECEIVE_MAXIMUM = 0x21
    TOPIC_ALIAS_MAXIMUM = 0x22
    TOPIC_ALIAS = 0x23
    MAXIMUM_QOS = 0x24
    RETAIN_AVAILABLE = 0x25
    USER_PROPERTY = 0x26
    MAXIMUM_PACKET_SIZE = 0x27
    WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
    SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
    SHARED_SUBSCRIPTION_AVAILABLE = 0x2A


# Each property's value type, by id (section 2.2.2.2), so that any can be skipped.
_BYTE, _TWO, _FOUR, _VARINT, _STRING, _BINARY, _PAIR = range(7)
_PROPERTY_TYPES = {
    0x01: _BYTE, 0x02: _FOUR, 0x03: _STRING, 0x08: _STRING, 0x09: _BINARY,
    0x0B: _VARINT, 0x11: _FOUR, 0x12: _STRING, 0x13: _TWO, 0x15: _STRING,
    0x16: _BINARY, 0x17: _BYTE, 0x18: _FOUR, 0x19: _BYTE, 0x1A: _STRING,
    0x1C: _STRING, 0x1F: _STRING, 0x21: _TWO, 0x22: _TWO, 0x23: _TWO,
    0x24: _BYTE, 0x25: _BYTE, 0x26: _PAIR, 0x27: _FOUR, 0x28: _BYTE,
    0x29: _BYTE, 0x2A: _BYTE,
}  # fmt: skip

Properties = dict[int, object]
MAX_REMAINING_LENGTH = 268_435_455


class MalformedPacket(Exception):
    """The bytes break MQTT's format; the connection cannot go on."""


class PacketTooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a packet of {size} bytes; at most {limit}")


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True)
class Connect:
    protocol_level: int
    client_id: str
    clean_start: bool
    keep_alive_s: int
    username: str | None
    password: bytes | None
    will: Will | None
    properties: Properties = field(default_factory=dict)


@dataclass(frozen=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    packet_id: int | None
    properties: Properties = field(default_factory=dict)


@dataclass(frozen=True)
class Subscribe:
    packet_id: int
    # Each topic filter with its requested maximum QoS.
    filters: list[tuple[str, int]]


@dataclass(frozen=True)
class Unsubscribe:
    packet_id: int
    filters: list[str]


@dataclass(frozen=True)
class Acknowledgement:
    """PUBACK, PUBREC, PUBREL or PUBCOMP: which packet id, and how it went."""

    kind: PacketType
    packet_id: int
    reason: int = ReasonCode.SUCCESS


@dataclass(frozen=True)
class Control:
    """A packet that carries nothing the endpoint reads: PINGREQ, DISCONNECT, AUTH."""

    kind: PacketType
    reason: int = ReasonCode.SUCCESS


Packet = Connect | Publish | Subscribe | Unsubscribe | Acknowledgement | Control


# -- reading ----------------------------------------------------------------------


async def read_packet(
    reader: asyncio.StreamReader, *, protocol_level: int, max_bytes: int
) -> Packet:
    """The next packet from the stream; IncompleteReadError when the peer leaves.
    ``protocol_level`` is the connection's (any before CONNECT)."""
    first = (await reader.readexactly(1))[0]
    length = 0
    for shift in range(0, 28, 7):
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
    else:
        raise MalformedPacket("the remaining length takes more than four bytes")
    if length > max_bytes:
        raise PacketTooLarge(length, max_bytes)
    body = await reader.readexactly(length)
    return parse(first >> 4, first & 0x0F, body, protocol_level=protocol_level)


def parse(kind: int, flags: int, body: bytes, *, protocol_level: int) -> Packet:
    cursor = _Cursor(body)
    v5 = protocol_level == MQTT_5
    try:
        packet_type = PacketType(kind)
    except ValueError:
        raise MalformedPacket(f"packet type {kind} does not exist") from None
    if packet_type is PacketType.CONNECT:
        _check_flags(packet_type, flags, 0)
        return _connect(cursor)
    if packet_type is PacketType.PUBLISH:
        return _publish(cursor, flags, v5)
    if packet_type in (PacketType.PUBACK, PacketType.PUBREC, PacketType.PUBREL, PacketType.PUBCOMP):
        expected = 0b0010 if packet_type is PacketType.PUBREL else 0
        _check_flags(packet_type, flags, expected)
        packet_id = cursor.two()
        reason = _reason(cursor, v5)
        return Acknowledgement(packet_type, packet_id, reason)
    if packet_type is PacketType.SUBSCRIBE:
        _check_flags(packet_type, flags, 0b0010)
        packet_id = _packet_id(cursor)
        if v5:
            cursor.properties()
        filters = []
        while cursor.left():
            topic_filter = cursor.string()
            filters.append((topic_filter, _subscription_qos(cursor.byte(), v5)))
        if not filters:
            raise MalformedPacket("SUBSCRIBE names no topic filter")
        return Subscribe(packet_id, filters)
    if packet_type is PacketType.UNSUBSCRIBE:
        _check_flags(packet_type, flags, 0b0010)
        packet_id = _packet_id(cursor)
        if v5:
            cursor.properties()
        names = []
        while cursor.left():
            names.append(cursor.string())
        if not names:
            raise MalformedPacket("UNSUBSCRIBE names no topic filter")
        return Unsubscribe(packet_id, names)
    if packet_type is PacketType.PINGREQ:
        _check_flags(packet_type, flags, 0)
        cursor.end(packet_type)
        return Control(packet_type)
    if packet_type is PacketType.DISCONNECT or (packet_type is PacketType.AUTH and v5):
        _check_flags(packet_type, flags, 0)
        return Control(packet_type, _reason(cursor, v5))
    raise MalformedPacket(f"{packet_type.name} is not a packet a client sends here")


def _reason(cursor: _Cursor, v5: bool) -> int:
    """An MQTT 5 packet's optional reason code and properties; nothing else may follow."""
    reason: int = ReasonCode.SUCCESS
    if v5 and cursor.left():
        reason = cursor.byte()
        if cursor.left():
            cursor.properties()
    cursor.end("the packet")
    return reason


def _packet_id(cursor: _Cursor) -> int:
    packet_id = cursor.two()
    if packet_id == 0:
        raise MalformedPacket("packet identifiers are not 0")
    return packet_id


def _subscription_qos(options: int, v5: bool) -> int:
    reserved = 0xC0 if v5 else 0xFC
    if options & reserved or options & 0x03 == 3 or (v5 and (options >> 4) & 0x03 == 3):
        raise MalformedPacket(f"subscription options {options:#04x}")
    return options & 0x03


def _check_flags(packet_type: PacketType, flags: int, expected: int) -> None:
    if flags != expected:
        raise MalformedPacket(f"{packet_type.name} with flags {flags:#06b}")


def _connect(cursor: _Cursor) -> Connect:
    name = cursor.string()
    level = cursor.byte()
    if name != "MQTT" or level not in (MQTT_3_1_1, MQTT_5):
        # The caller answers with "unsupported protocol version" (level 0: not MQTT).
        return Connect(level if name in ("MQTT", "MQIsdp") else 0, "", True, 0, None, None, None)
    flags = cursor.byte()
    if flags & 0x01:
        raise MalformedPacket("CONNECT's reserved flag is set")
    keep_alive = cursor.two()
    v5 = level == MQTT_5
    properties = cursor.properties() if v5 else {}
    client_id = cursor.string()
    will = None
    if flags & 0x04:
        if (flags >> 3) & 0x03 == 3:
            raise MalformedPacket("a will at QoS 3")
        if v5:
            cursor.properties()
        will = Will(cursor.string(), cursor.binary(), (flags >> 3) & 0x03, bool(flags & 0x20))
    elif flags & 0x38:
        raise MalformedPacket("a will's QoS or retain flag without a will")
    if not v5 and flags & 0x40 and not flags & 0x80:
        raise MalformedPacket("MQTT 3.1.1 has no password without a user name")
    username = cursor.string() if flags & 0x80 else None
    password = cursor.binary() if flags & 0x40 else None
    cursor.end("CONNECT")
    return Connect(level, client_id, bool(flags & 0x02), keep_alive, username, password, will,
                   properties)  # fmt: skip


def _publish(cursor: _Cursor, flags: int, v5: bool) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3")
    topic = cursor.string()
    packet_id = _packet_id(cursor) if qos else None
    properties = cursor.properties() if v5 else {}
    return Publish(topic, cursor.rest(), qos, bool(flags & 0x01), bool(flags & 0x08), packet_id,
                   properties)  # fmt: skip


class _Cursor:
    def __init__(self, body: bytes) -> None:
        self._body = body
        self._at = 0

    def left(self) -> int:
        return len(self._body) - self._at

    def take(self, count: int) -> bytes:
        if count > self.left():
            raise MalformedPacket("the packet ends inside a field")
        chunk = self._body[self._at : self._at + count]
        self._at += count
        return chunk

    def end(self, what: object) -> None:
        if self.left():
            name = what.name if isinstance(what, PacketType) else what
            raise MalformedPacket(f"{self.left()} bytes after the end of {name}")

    def rest(self) -> bytes:
        return self.take(self.left())

    def byte(self) -> int:
        return self.take(1)[0]

    def two(self) -> int:
        value: int = struct.unpack(">H", self.take(2))[0]
        return value

    def four(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def varint(self) -> int:
        value = 0
        for shift in range(0, 28, 7):
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise MalformedPacket("a variable byte integer takes more than four bytes")

    def binary(self) -> bytes:
        return self.take(self.two())

    def string(self) -> str:
        raw = self.binary()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPacket("a string is not UTF-8") from None
        if "\x00" in text:
            raise MalformedPacket("a string holds U+0000")
        return text

    def properties(self) -> Properties:
        length = self.varint()
        end = self._at + length
        if end > len(self._body):
            raise MalformedPacket("the properties run past the packet")
        found: Properties = {}
        while self._at < end:
            identifier = self.varint()
            kind = _PROPERTY_TYPES.get(identifier)
            if kind is None:
                raise MalformedPacket(f"property {identifier:#04x} does not exist")
            value = self._property(kind)
            if identifier == Property.USER_PROPERTY:
                pairs = found.setdefault(identifier, [])
                assert isinstance(pairs, list)
                pairs.append(value)
            elif identifier in found:
                raise MalformedPacket(f"property {identifier:#04x} appears twice")
            else:
                found[identifier] = value
        if self._at != end:
            raise MalformedPacket("a property runs past the properties' length")
        return found

    def _property(self, kind: int) -> object:
        if kind == _BYTE:
            return self.byte()
        if kind == _TWO:
            return self.two()
        if kind == _FOUR:
            return self.four()
        if kind == _VARINT:
            return self.varint()
        if kind == _STRING:
            return self.string()
        if kind == _BINARY:
            return self.binary()
        return (self.string(), self.string())


# -- writing ----------------------------------------------------------------------


def connack(
    protocol_level: int, reason: ReasonCode, *, properties: Properties | None = None
) -> bytes:
    if protocol_level == MQTT_5:
        return _packet(PacketType.CONNACK, 0, b"\x00" + bytes([reason]) + _properties(properties))
    code = CONNACK_3_1_1.get(reason, CONNACK_3_1_1[ReasonCode.SERVER_UNAVAILABLE])
    return _packet(PacketType.CONNACK, 0, bytes([0, code]))


def acknowledgement(
    protocol_level: int,
    kind: PacketType,
    packet_id: int,
    reason: ReasonCode = ReasonCode.SUCCESS,
    *,
    reason_string: str = "",
) -> bytes:
    """PUBACK, PUBREC, PUBREL or PUBCOMP; MQTT 3.1.1 has no room for the reason."""
    flags = 0b0010 if kind is PacketType.PUBREL else 0
    body = struct.pack(">H", packet_id)
    if protocol_level == MQTT_5 and (reason or reason_string):
        body += bytes([reason]) + _properties(_reason_string(reason_string))
    return _packet(kind, flags, body)


def suback(protocol_level: int, packet_id: int, granted: list[ReasonCode]) -> bytes:
    if protocol_level == MQTT_5:
        codes = bytes(granted)
        return _packet(PacketType.SUBACK, 0, struct.pack(">H", packet_id) + b"\x00" + codes)
    codes = bytes(code if code < 0x80 else SUBACK_FAILURE_3_1_1 for code in granted)
    return _packet(PacketType.SUBACK, 0, struct.pack(">H", packet_id) + codes)


def unsuback(protocol_level: int, packet_id: int, reasons: list[ReasonCode]) -> bytes:
    body = struct.pack(">H", packet_id)
    if protocol_level == MQTT_5:
        body += b"\x00" + bytes(reasons)
    return _packet(PacketType.UNSUBACK, 0, body)


def pingresp() -> bytes:
    return _packet(PacketType.PINGRESP, 0, b"")


def publish(protocol_level: int, topic: str, payload: bytes, *, qos: int, packet_id: int) -> bytes:
    body = _string(topic)
    if qos:
        body += struct.pack(">H", packet_id)
    if protocol_level == MQTT_5:
        body += b"\x00"
    return _packet(PacketType.PUBLISH, qos << 1, body + payload)


def disconnect(protocol_level: int, reason: ReasonCode, reason_string: str = "") -> bytes | None:
    """A server's DISCONNECT, which only MQTT 5 has (3.1.1 closes the connection)."""
    if protocol_level != MQTT_5:
        return None
    return _packet(
        PacketType.DISCONNECT, 0, bytes([reason]) + _properties(_reason_string(reason_string))
    )


def _reason_string(text: str) -> Properties:
    # A reason string is for people; a long one could exceed the client's packet size.
    return {Property.REASON_STRING: text[:512]} if text else {}


def _packet(kind: PacketType, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + _varint(len(body)) + body


def _varint(value: int) -> bytes:
    if not 0 <= value <= MAX_REMAINING_LENGTH:
        raise ValueError(f"{value} does not fit a variable byte integer")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw


def _properties(properties: Properties | None) -> bytes:
    encoded = b""
    for identifier, value in (properties or {}).items():
        kind = _PROPERTY_TYPES[identifier]
        encoded += _varint(identifier)
        if kind == _BYTE:
            assert isinstance(value, int)
            encoded += bytes([value])
        elif kind == _TWO:
            assert isinstance(value, int)
            encoded += struct.pack(">H", value)
        elif kind == _FOUR:
            assert isinstance(value, int)
            encoded += struct.pack(">I", value)
        elif kind == _STRING:
            assert isinstance(value, str)
            encoded += _string(value)
        else:
            raise ValueError(f"the endpoint does not write property {identifier:#04x}")
    return _varint(len(encoded)) + encoded
