"""Alarm rules judged in the stream: telemetry batches, anomaly episodes and the
ends of remote commands, each in the transaction that remembers it was judged;
and the sweep for what shows in no record (silence, ended shifts)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from imcloud.common.v1.events_pb2 import EventEnvelope
from imcloud.products.v1 import equipment_events_pb2, telemetry_pb2
from imcloud.servitization.v1 import commands_pb2
from imcloud_core.bus import Record
from imcloud_core.convert import from_timestamp
from imcloud_core.events import parse_envelope, unpack
from imcloud_core.logging import get_logger
from imcloud_servitization.convert import EPISODE_SEVERITIES
from imcloud_servitization.domain.alarms import (
    AlarmChanged,
    AlarmEvaluator,
    Series,
    command_verdict,
    episode_verdict,
)
from imcloud_servitization.events.handlers import episode_of
from imcloud_servitization.metrics import ALARM_JUDGEMENTS, count_alarms

GROUP = "servitization.alarms"
log = get_logger(__name__)
# A command that ended like this makes a command rule's alarm hold (True) or end.
COMMAND_ENDS = {
    "command.failed": True,
    "command.rejected": True,
    "command.expired": True,
    "command.succeeded": False,
}


def _telemetry(evaluator: AlarmEvaluator, envelope: EventEnvelope) -> list[AlarmChanged] | None:
    if not envelope.payload.Is(telemetry_pb2.TelemetryRecorded.DESCRIPTOR):
        return None
    if not evaluator.watches(envelope.tenant_id):
        return []
    recorded = telemetry_pb2.TelemetryRecorded()
    envelope.payload.Unpack(recorded)
    return evaluator.telemetry(
        tenant_id=envelope.tenant_id,
        equipment_id=recorded.equipment_id,
        series=[
            Series(s.series.signal, s.series.timestamps_ms, s.series.values)
            for s in recorded.series
        ],
    )


def _episode(evaluator: AlarmEvaluator, envelope: EventEnvelope) -> list[AlarmChanged] | None:
    episode = episode_of(envelope)
    if episode is None or episode.kind != equipment_events_pb2.EPISODE_KIND_ANOMALY:
        return None
    severity = EPISODE_SEVERITIES.get(episode.severity, "low")
    is_open = unpack(envelope, equipment_events_pb2.AnomalyEpisodeClosed) is None
    return evaluator.news(
        tenant_id=envelope.tenant_id,
        equipment_id=episode.equipment_id,
        occurred=from_timestamp(envelope.occurred_at),
        holds=episode_verdict(severity, is_open),
        detail=f"anomaly episode {episode.id} ({severity})",
    )


def _command(evaluator: AlarmEvaluator, envelope: EventEnvelope) -> list[AlarmChanged] | None:
    failed = COMMAND_ENDS.get(envelope.type)
    updated = unpack(envelope, commands_pb2.CommandUpdated)
    if failed is None or updated is None:
        return None
    command = updated.command
    return evaluator.news(
        tenant_id=envelope.tenant_id,
        equipment_id=command.equipment_id,
        occurred=from_timestamp(envelope.occurred_at),
        holds=command_verdict(failed),
        detail=": ".join(
            filter(
                None,
                [
                    f"command {command.name} {envelope.type.removeprefix('command.')}",
                    command.detail,
                ],
            )
        ),
    )


# Each says None for a record that is not its kind.
JUDGES = (_telemetry, _episode, _command)


def alarm_handler(evaluator: AlarmEvaluator) -> Callable[[Sequence[Record]], None]:
    def handle(batch: Sequence[Record]) -> None:
        for record in batch:
            envelope = parse_envelope(record.value)
            for judge in JUDGES:
                changes = judge(evaluator, envelope)
                if changes is not None:
                    ALARM_JUDGEMENTS.inc()
                    count_alarms(changes)
                    break

    return handle


def sweep_alarms(evaluator: AlarmEvaluator) -> None:
    swept = evaluator.sweep()
    count_alarms(swept.changes)
    for problem in swept.problems:
        log.warning("alarm rule not judged this round", problem=problem)
