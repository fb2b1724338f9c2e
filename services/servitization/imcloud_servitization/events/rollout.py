"""The fleet jobs' rollout, run every second beside the event handlers, and what
it hears from the products service: the desired versions machines applied."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from prometheus_client import Counter

from imcloud.products.v1 import events_pb2
from imcloud_core.bus import Record
from imcloud_core.events import parse_envelope, unpack
from imcloud_core.logging import get_logger
from imcloud_servitization.domain import jobs
from imcloud_servitization.domain.ports import DesiredStates, UnitOfWork

log = get_logger(__name__)

GROUP = "servitization.jobs"
STARTED = Counter(
    "imcloud_servitization_job_executions_started_total",
    "Machines a fleet job sent its command or desired-state change to",
)
ENDED = Counter("imcloud_servitization_jobs_ended_total", "Fleet jobs by how they ended", ["state"])


def roll_out_jobs(
    unit_of_work: Callable[[], UnitOfWork], desired_states: DesiredStates, now: datetime
) -> None:
    """Follows the jobs' machines, then steps every job in progress; a job whose
    step fails is logged and tried again next round without holding up the others."""
    jobs.follow_machines(unit_of_work, now=now)
    for tenant_id, job_id in jobs.in_progress(unit_of_work()):
        try:
            started, ended = jobs.step(
                unit_of_work(), desired_states, tenant_id=tenant_id, job_id=job_id, now=now
            )
        except Exception:
            log.exception("a fleet job's rollout step failed", job_id=job_id)
            continue
        STARTED.inc(started)
        if ended is not None:
            ENDED.labels(ended.state.value).inc()
            log.info("fleet job ended", job_id=job_id, state=ended.state.value, detail=ended.detail)


def desired_applied_handler(
    unit_of_work: Callable[[], UnitOfWork],
) -> Callable[[Sequence[Record]], None]:
    """Keeps the newest desired version each machine applied; repeats change nothing."""

    def handle(batch: Sequence[Record]) -> None:
        for record in batch:
            envelope = parse_envelope(record.value)
            applied = unpack(envelope, events_pb2.DesiredStateApplied)
            if applied is None:
                continue
            jobs.record_desired_applied(
                unit_of_work(),
                tenant_id=envelope.tenant_id,
                equipment_id=applied.equipment_id,
                version=applied.applied_version,
                detail=applied.detail,
            )

    return handle
