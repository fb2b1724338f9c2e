"""What the servitization service does when other services report facts."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from imcloud.products.v1 import equipment_events_pb2 as pb
from imcloud_core.bus import Record
from imcloud_core.events import parse_envelope, unpack
from imcloud_core.logging import get_logger
from imcloud_servitization.domain import services
from imcloud_servitization.domain.ports import UnitOfWork

log = get_logger(__name__)

GROUP = "servitization.maintenance"
SEVERITIES = {
    pb.EPISODE_SEVERITY_LOW: "low",
    pb.EPISODE_SEVERITY_MEDIUM: "medium",
    pb.EPISODE_SEVERITY_HIGH: "high",
}


def anomaly_handler(
    unit_of_work: Callable[[], UnitOfWork],
) -> Callable[[Sequence[Record]], None]:
    def handle(batch: Sequence[Record]) -> None:
        for record in batch:
            envelope = parse_envelope(record.value)
            opened = unpack(envelope, pb.AnomalyEpisodeOpened)
            if opened is None or opened.episode.kind != pb.EPISODE_KIND_ANOMALY:
                continue
            episode = opened.episode
            ticket = services.open_ticket_for_anomaly(
                unit_of_work(),
                tenant_id=envelope.tenant_id,
                equipment_id=episode.equipment_id,
                episode_id=episode.id,
                severity=SEVERITIES.get(episode.severity, "low"),
                top_signals=list(episode.top_signals),
            )
            if ticket is not None:
                log.info(
                    "maintenance ticket opened from an anomaly",
                    ticket_id=ticket.id,
                    episode_id=episode.id,
                )

    return handle
