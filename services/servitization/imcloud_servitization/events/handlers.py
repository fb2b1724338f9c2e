"""What the servitization service does when other services report facts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from imcloud.common.v1.events_pb2 import EventEnvelope
from imcloud.products.v1 import equipment_events_pb2 as pb
from imcloud.servitization.v1 import commands_pb2
from imcloud_core.bus import Record
from imcloud_core.events import parse_envelope, unpack
from imcloud_core.logging import get_logger
from imcloud_servitization.convert import EPISODE_SEVERITIES
from imcloud_servitization.domain import commands, services
from imcloud_servitization.domain.model import CommandState
from imcloud_servitization.domain.ports import UnitOfWork
from imcloud_servitization.metrics import RESENDS, count_state

log = get_logger(__name__)

GROUP = "servitization.maintenance"


def episode_of(envelope: EventEnvelope) -> pb.AnomalyEpisode | None:
    """The episode as it is now, from any news of it (opened, escalated, closed)."""
    opened = unpack(envelope, pb.AnomalyEpisodeOpened)
    if opened is not None:
        return opened.episode
    escalated = unpack(envelope, pb.AnomalyEpisodeEscalated)
    if escalated is not None:
        return escalated.episode
    closed = unpack(envelope, pb.AnomalyEpisodeClosed)
    return closed.episode if closed is not None else None


def anomaly_handler(
    unit_of_work: Callable[[], UnitOfWork],
) -> Callable[[Sequence[Record]], None]:
    def handle(batch: Sequence[Record]) -> None:
        for record in batch:
            envelope = parse_envelope(record.value)
            episode = episode_of(envelope)
            if episode is None or episode.kind != pb.EPISODE_KIND_ANOMALY:
                continue
            ticket = services.ticket_for_anomaly(
                unit_of_work(),
                tenant_id=envelope.tenant_id,
                equipment_id=episode.equipment_id,
                episode_id=episode.id,
                severity=EPISODE_SEVERITIES.get(episode.severity, "low"),
                top_signals=list(episode.top_signals),
            )
            if ticket is not None:
                log.info(
                    "maintenance ticket for an anomaly",
                    ticket_id=ticket.id,
                    episode_id=episode.id,
                    priority=ticket.priority.value,
                )

    return handle


COMMANDS_GROUP = "servitization.commands"
STAGES = {
    commands_pb2.COMMAND_STAGE_DELIVERED: CommandState.DELIVERED,
    commands_pb2.COMMAND_STAGE_SUCCEEDED: CommandState.SUCCEEDED,
    commands_pb2.COMMAND_STAGE_FAILED: CommandState.FAILED,
    commands_pb2.COMMAND_STAGE_REJECTED: CommandState.REJECTED,
}


def command_progress_handler(
    unit_of_work: Callable[[], UnitOfWork],
) -> Callable[[Sequence[Record]], None]:
    """News from the device link moves commands on; repeats change nothing, and an
    answer after the expiry is kept as late."""

    def handle(batch: Sequence[Record]) -> None:
        for record in batch:
            envelope = parse_envelope(record.value)
            news = unpack(envelope, commands_pb2.CommandProgressed)
            if news is None or news.stage not in STAGES:
                continue
            changed = commands.progress(
                unit_of_work(),
                tenant_id=envelope.tenant_id,
                equipment_id=news.equipment_id,
                command_id=news.command_id,
                to=STAGES[news.stage],
                detail=news.detail,
            )
            if changed is not None:
                count_state(changed)
                if changed.late:
                    log.info("late answer kept", command_id=changed.id, state=changed.state.value)

    return handle


def expire_commands(unit_of_work: Callable[[], UnitOfWork], now: datetime) -> None:
    for command in commands.expire_overdue(unit_of_work(), now=now):
        count_state(command)
        log.info("command expired", command_id=command.id, detail=command.detail)


def resend_commands(unit_of_work: Callable[[], UnitOfWork], now: datetime) -> None:
    resent = commands.resend_unconfirmed(unit_of_work(), now=now)
    RESENDS.inc(len(resent))
    for command in resent:
        log.info("command sent again", command_id=command.id, attempts=command.attempts)
