"""ThingsBoard's device API over MQTT, translated: the topics a machine uses and the
JSON it sends and receives on them (thingsboard.io/docs/reference/mqtt-api).

- telemetry: ``{"key": value}``, ``{"ts": ms, "values": {...}}`` or a list of either;
- commands down ``v1/devices/me/rpc/request/{id}`` as ``{"method", "params"}``, the
  answer up ``v1/devices/me/rpc/response/{id}``: ``{"error": "..."}`` for a failure,
  anything else for success;
- the desired state down ``v1/devices/me/attributes`` as shared attributes, the
  desired properties and ``desired_version``; the machine reports the version it
  applied on the same topic: ``{"applied_version": N, "applied_detail": "..."}``.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field

from imcloud.gateway.v1 import device_link_pb2 as pb
from imcloud_gateway.domain.telemetry import MAX_STORED_INTEGER, Refusal, RefusalReason

TELEMETRY = "v1/devices/me/telemetry"
RPC_REQUESTS = "v1/devices/me/rpc/request/+"
RPC_REQUEST = "v1/devices/me/rpc/request/"
RPC_RESPONSE = "v1/devices/me/rpc/response/"
ATTRIBUTES = "v1/devices/me/attributes"
DESIRED_VERSION = "desired_version"
APPLIED_VERSION = "applied_version"
APPLIED_DETAIL = "applied_detail"
# What a result's detail keeps of the machine's answer.
MAX_DETAIL_CHARS = 1000


class PayloadInvalid(ValueError):
    """The message cannot be read as telemetry at all; nothing of it is taken."""


@dataclass
class JsonSeries:
    signal: str
    timestamps_ms: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


class Points:
    """A message's points by signal, gathered as they are read, and per signal the
    values that are no numbers (refused before the batch is checked)."""

    def __init__(self) -> None:
        self._series: dict[str, JsonSeries] = {}
        self._not_numbers: defaultdict[str, int] = defaultdict(int)

    def add(self, signal: str, stamp_ms: int, value: float | None) -> None:
        if value is None:
            self._not_numbers[signal] += 1
            return
        points = self._series.get(signal)
        if points is None:
            points = self._series[signal] = JsonSeries(signal)
        points.timestamps_ms.append(stamp_ms)
        points.values.append(value)

    @property
    def series(self) -> list[JsonSeries]:
        return list(self._series.values())

    @property
    def refusals(self) -> list[Refusal]:
        return [
            Refusal(signal, RefusalReason.WRONG_TYPE, count, "values are numbers or booleans")
            for signal, count in self._not_numbers.items()
        ]


@dataclass(frozen=True)
class TelemetryMessage:
    series: list[JsonSeries]
    # Values that are no numbers, refused before the batch is checked.
    refusals: list[Refusal]
    # A hash of the message: a redelivered message (QoS 1 after a lost PUBACK) is
    # the same batch, which the platform stores once.
    sequence_id: int


def telemetry(payload: bytes, *, now_ms: int) -> TelemetryMessage:
    """Reads a telemetry message; points without ``ts`` are stamped ``now_ms``, and
    the arrival time then enters the hash too: such a point redelivered is new."""
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PayloadInvalid(f"telemetry is JSON: {error}") from None
    entries = document if isinstance(document, list) else [document]
    points = Points()
    stamped_here = False
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise PayloadInvalid(f"entry {position}: an object of values, or of ts and values")
        if "ts" in entry:
            stamp, values = _timestamped(entry, position)
        else:
            stamp, values, stamped_here = now_ms, entry, True
        for signal, value in values.items():
            points.add(signal, stamp, _number(value))
    return TelemetryMessage(
        series=points.series,
        refusals=points.refusals,
        sequence_id=sequence_id(payload, arrival_ms=now_ms if stamped_here else None),
    )


def sequence_id(payload: bytes, *, arrival_ms: int | None = None) -> int:
    """A message's batch id: a hash of its bytes, and of its arrival when the
    message left a point's time to the gateway."""
    digest = hashlib.blake2b(payload, digest_size=8)
    if arrival_ms is not None:
        digest.update(arrival_ms.to_bytes(8, "big"))
    return int.from_bytes(digest.digest(), "big") & MAX_STORED_INTEGER


def _timestamped(entry: dict[str, object], position: int) -> tuple[int, dict[str, object]]:
    stamp, values = entry["ts"], entry.get("values")
    if set(entry) != {"ts", "values"} or not isinstance(values, dict):
        raise PayloadInvalid(f'entry {position}: with "ts", the points are in "values"')
    if isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 <= stamp <= 2**63 - 1:
        raise PayloadInvalid(f'entry {position}: "ts" is milliseconds since 1970, an integer')
    return stamp, values


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int):
        return float(value) if abs(value) < 2**63 else None
    if isinstance(value, float):
        return value  # NaN and infinities are refused by the batch check, named so
    return None


def rpc_request(command: pb.Command) -> tuple[str, bytes]:
    """A command as ThingsBoard's server-side RPC: its topic and payload."""
    params = json.loads(command.parameters_json) if command.parameters_json else {}
    body = {"method": command.name, "params": params}
    return RPC_REQUEST + command.command_id, json.dumps(body).encode()


def rpc_result(command_id: str, payload: bytes) -> pb.CommandResult:
    """A machine's answer on ``v1/devices/me/rpc/response/{id}``."""
    text = payload.decode("utf-8", errors="replace")
    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        answer = text
    if isinstance(answer, dict) and "error" in answer:
        return pb.CommandResult(
            command_id=command_id,
            outcome=pb.COMMAND_OUTCOME_FAILED,
            detail=_detail(answer["error"]),
        )
    return pb.CommandResult(
        command_id=command_id, outcome=pb.COMMAND_OUTCOME_SUCCEEDED, detail=_detail(answer)
    )


def desired_attributes(desired: pb.DesiredState) -> bytes:
    properties = json.loads(desired.properties_json) if desired.properties_json else {}
    return json.dumps({**properties, DESIRED_VERSION: desired.version}).encode()


def applied_report(payload: bytes) -> pb.DesiredStateApplied:
    """The machine's client attributes, which must report an applied version: the
    platform keeps no other client attributes."""
    try:
        attributes = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PayloadInvalid(f"attributes are a JSON object: {error}") from None
    version = attributes.get(APPLIED_VERSION) if isinstance(attributes, dict) else None
    if isinstance(version, bool) or not isinstance(version, int):
        raise PayloadInvalid(
            f'client attributes are not kept; a machine reports {{"{APPLIED_VERSION}": N}}'
        )
    detail = attributes.get(APPLIED_DETAIL, "")
    return pb.DesiredStateApplied(version=version, detail=_detail(detail) if detail else "")


def _detail(answer: object) -> str:
    text = answer if isinstance(answer, str) else json.dumps(answer)
    return text[:MAX_DETAIL_CHARS]


def refusal_summary(refusals: list[Refusal]) -> str:
    """The refusals of a message in one line, for a PUBACK's reason string and the log."""
    return "; ".join(
        f"{r.signal or 'batch'}: {r.reason.value} ({r.points})"
        + (f" - {r.detail}" * bool(r.detail))
        for r in refusals
    )
