"""Sparkplug B (Eclipse's specification for MQTT in industry) on the MQTT endpoint:
``spBv1.0/{group}/{type}/{edge node}[/{device}]`` with protobuf payloads in Eclipse
Tahu's schema, read and written by pysparkplug.

A connection speaks for its credential's one machine: the machine is the edge node
named in its first Sparkplug topic (or its will), with at most one device under it.
- NBIRTH/DBIRTH name the metrics (and their aliases); metrics named like the
  machine's signals are its telemetry, births' values included;
- NDATA/DDATA carry changes; each message's ``seq`` follows the last one's (0-255):
  a gap means messages were lost, and the edge node is asked to be born again;
- NDEATH whose bdSeq is the birth's, and DDEATH, mark the machine disconnected;
- commands go down as DCMD to the device (NCMD when the edge node has none): a
  metric named like the command whose value is its parameters as JSON, and
  ``imcloud/command_id``.
Metrics of Sparkplug's own (bdSeq, Node Control/..., Properties/...) are not signals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pysparkplug as spb

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud_gateway.api.mqtt.thingsboard import JsonSeries, PayloadInvalid, Points, sequence_id
from imcloud_gateway.domain.telemetry import Refusal

NAMESPACE = "spBv1.0"
BD_SEQ = "bdSeq"
REBIRTH = "Node Control/Rebirth"
COMMAND_ID = "imcloud/command_id"
# Metrics Sparkplug defines for itself, not measurements.
OWN_METRICS = ("Node Control/", "Device Control/", "Properties/", BD_SEQ)
SEQ_LIMIT = 256
NUMBERS = {
    spb.DataType.INT8, spb.DataType.INT16, spb.DataType.INT32, spb.DataType.INT64,
    spb.DataType.UINT8, spb.DataType.UINT16, spb.DataType.UINT32, spb.DataType.UINT64,
    spb.DataType.FLOAT, spb.DataType.DOUBLE, spb.DataType.BOOLEAN,
}  # fmt: skip
FROM_EDGE = {"NBIRTH", "NDATA", "NDEATH", "DBIRTH", "DDATA", "DDEATH"}
TO_EDGE = {"NCMD", "DCMD"}


class NotYours(PermissionError):
    """The topic names another edge node or device than the connection's machine."""


@dataclass(frozen=True)
class SparkplugTopic:
    group: str
    kind: str
    edge: str
    device: str | None

    def __str__(self) -> str:
        device = f"/{self.device}" if self.device else ""
        return f"{NAMESPACE}/{self.group}/{self.kind}/{self.edge}{device}"


def parse_topic(topic: str) -> SparkplugTopic | None:
    """The Sparkplug topic; None when the topic is outside Sparkplug's namespace.
    A topic in the namespace that is no Sparkplug topic raises PayloadInvalid."""
    parts = topic.split("/")
    if parts[0] != NAMESPACE:
        return None
    if len(parts) not in (4, 5) or any(not p or p in ("+", "#") for p in parts):
        raise PayloadInvalid(f"{topic!r} is no Sparkplug B topic: spBv1.0/group/TYPE/edge[/device]")
    kind = parts[2]
    device = parts[4] if len(parts) == 5 else None
    if kind not in FROM_EDGE | TO_EDGE or (device is None) == kind.startswith("D"):
        raise PayloadInvalid(f"{topic!r}: no Sparkplug B message type {kind!r} for this topic")
    return SparkplugTopic(parts[1], kind, parts[3], device)


@dataclass(frozen=True)
class SparkplugOutcome:
    series: list[JsonSeries]
    refusals: list[Refusal]
    sequence_id: int
    # True: the machine came online (a birth); False: it went offline (a death).
    online: bool | None = None
    # The messages before this one were not all received: ask for a new birth.
    rebirth: bool = False
    detail: str = ""


@dataclass
class EdgeNode:
    """What one connection's edge node has said so far: its names, its births (the
    aliases of its metrics), the bdSeq of its birth and the seq it sends next."""

    group: str | None = None
    edge: str | None = None
    device: str | None = None
    births: dict[str | None, spb.NBirth | spb.DBirth] = field(default_factory=dict)
    bd_seq: int | None = None
    next_seq: int | None = None

    @property
    def born(self) -> bool:
        return None in self.births

    def claim(self, topic: SparkplugTopic) -> None:
        """Takes the topic's names as the machine's, or refuses another's."""
        if self.edge is None:
            self.group, self.edge = topic.group, topic.edge
        if (topic.group, topic.edge) != (self.group, self.edge):
            raise NotYours(
                f"this connection is edge node {self.group}/{self.edge}, "
                f"not {topic.group}/{topic.edge}"
            )
        if topic.device is not None:
            if self.device is None:
                self.device = topic.device
            if topic.device != self.device:
                raise NotYours(
                    f"a device credential speaks for one machine, device {self.device!r} here"
                )

    def may_subscribe(self, topic_filter: str) -> bool:
        """Its own command topics only, wildcards nowhere."""
        try:
            topic = parse_topic(topic_filter)
        except PayloadInvalid:
            return False
        if topic is None or topic.kind not in TO_EDGE:
            return False
        try:
            self.claim(topic)
        except NotYours:
            return False
        return True

    def received(self, topic: SparkplugTopic, payload: bytes) -> SparkplugOutcome:
        """Reads a message the edge node published (its topic claimed already)."""
        if topic.kind in TO_EDGE:
            raise NotYours("commands go to the edge node, not from it")
        try:
            message = _decode(topic, payload, self.births.get(topic.device))
        except Exception as error:  # protobuf's DecodeError, a missing alias, among others
            raise PayloadInvalid(f"no Sparkplug B {topic.kind} payload: {error}") from None
        if isinstance(message, spb.NDeath):
            return self._node_death(message)
        rebirth = self._follow_seq(topic.kind, message.seq)
        online = None
        if isinstance(message, spb.NBirth | spb.DBirth):
            self.births[topic.device] = message
            online = True
            if isinstance(message, spb.NBirth):
                self.bd_seq = _bd_seq(message.metrics)
        elif not self.born or (topic.device is not None and topic.device not in self.births):
            return SparkplugOutcome([], [], 0, rebirth=True, detail="data before its birth")
        if isinstance(message, spb.DDeath):
            self.births.pop(topic.device, None)
            return SparkplugOutcome([], [], 0, online=False, rebirth=rebirth)
        series, refusals = _series(message.metrics, message.timestamp)
        return SparkplugOutcome(series, refusals, sequence_id(payload), online, rebirth)

    def _node_death(self, death: spb.NDeath) -> SparkplugOutcome:
        value = death.bd_seq_metric.value
        if self.bd_seq is None or value != self.bd_seq:
            return SparkplugOutcome(
                [], [], 0, detail=f"the death of another birth (bdSeq {value!r})"
            )
        self.births.clear()
        self.next_seq = None
        return SparkplugOutcome([], [], 0, online=False)

    def _follow_seq(self, kind: str, seq: int) -> bool:
        """True when ``seq`` is not the one expected after the last message."""
        expected = 0 if kind == "NBIRTH" else self.next_seq
        self.next_seq = (seq + 1) % SEQ_LIMIT
        return expected is not None and seq != expected

    def command(self, command: pb.Command, *, now_ms: int) -> tuple[str, bytes]:
        """The command as DCMD to the device, or NCMD to the edge node without one."""
        topic = self._topic("DCMD" if self.device else "NCMD", self.device)
        metrics = (
            spb.Metric(
                now_ms, command.name, spb.DataType.STRING, value=command.parameters_json or "{}"
            ),
            spb.Metric(now_ms, COMMAND_ID, spb.DataType.STRING, value=command.command_id),
        )
        payload = (spb.DCmd if self.device else spb.NCmd)(timestamp=now_ms, metrics=metrics)
        return str(topic), payload.encode(include_dtypes=True)

    def rebirth_request(self, *, now_ms: int) -> tuple[str, bytes]:
        topic = self._topic("NCMD", None)
        metric = spb.Metric(now_ms, REBIRTH, spb.DataType.BOOLEAN, value=True)
        return str(topic), spb.NCmd(timestamp=now_ms, metrics=(metric,)).encode(include_dtypes=True)

    def _topic(self, kind: str, device: str | None) -> SparkplugTopic:
        if self.group is None or self.edge is None:
            raise ValueError("the edge node has not named itself yet")
        return SparkplugTopic(self.group, kind, self.edge, device)


Decoded = spb.NBirth | spb.NData | spb.NDeath | spb.DBirth | spb.DData | spb.DDeath
_PAYLOADS: dict[str, Any] = {
    "NBIRTH": spb.NBirth, "NDATA": spb.NData, "NDEATH": spb.NDeath,
    "DBIRTH": spb.DBirth, "DDATA": spb.DData, "DDEATH": spb.DDeath,
}  # fmt: skip


def _decode(
    topic: SparkplugTopic, payload: bytes, birth: spb.NBirth | spb.DBirth | None
) -> Decoded:
    decoded: Decoded = _PAYLOADS[topic.kind].decode(payload, birth=birth)
    return decoded


def _bd_seq(metrics: tuple[spb.Metric, ...]) -> int | None:
    for metric in metrics:
        if metric.name == BD_SEQ and isinstance(metric.value, int):
            return metric.value
    return None


def _series(
    metrics: tuple[spb.Metric, ...], sent_ms: int
) -> tuple[list[JsonSeries], list[Refusal]]:
    points = Points()
    for metric in metrics:
        name = metric.name or ""
        if name.startswith(OWN_METRICS) or metric.is_null:
            continue
        number = metric.value if metric.datatype in NUMBERS else None
        stamp = metric.timestamp if metric.timestamp is not None else sent_ms
        points.add(name, stamp, None if number is None else float(number))  # type: ignore[arg-type]
    return points.series, points.refusals
