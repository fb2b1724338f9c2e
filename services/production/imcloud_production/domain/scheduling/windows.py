"""Where on a station's plan maintenance costs production least.

A window of the asked duration is judged second by second: time outside the
plant's working time, time inside planned stops and time the plan leaves the
station idle cost nothing; time of planned operations is production that must
move. Windows are ranked by the operation time they displace, then by the
lateness the move adds to work orders, then by how soon they start (the earlier,
the further from the predicted failure). Operations that have started, or that
start within the frozen near horizon, stay where they are whatever is booked, so
no window overlaps them.

The moves are estimated on the station alone: the displaced operations start
when the window ends, pushing the ones after them for as long as the station
has no idle time to absorb the push. The repair that follows a booking plans the
whole plant and may do better.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from imcloud_production.domain.calendar import Span, minute_floor
from imcloud_production.domain.scheduling.plan import (
    Eta,
    PlannedOperation,
    duration_text,
    time_text,
)

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class StationPlan:
    """What the plan holds for one station from now on."""

    station_id: str
    plant_id: str
    now: datetime
    # The station's planned operations, in any order.
    operations: Sequence[PlannedOperation]
    # The plant's working windows; None: the station works around the clock.
    working: Sequence[Span] | None
    # Planned downtime already booked for the station.
    planned_stops: Sequence[Span]
    # The ETA of every scheduled work order.
    etas: Mapping[str, Eta]
    # Operations starting before this stay where they are (the frozen near horizon).
    keep_until: datetime


@dataclass(frozen=True)
class DelayedOrder:
    work_order_id: str
    delay_s: float
    added_lateness_s: float


@dataclass(frozen=True)
class Window:
    station_id: str
    plant_id: str
    start: datetime
    end: datetime
    displaced_operation_s: float
    idle_s: float
    planned_stop_s: float
    non_working_s: float
    delayed: tuple[DelayedOrder, ...]
    explanation: str

    @property
    def added_lateness_s(self) -> float:
        return sum(order.added_lateness_s for order in self.delayed)


def suggested(
    plan: StationPlan, *, duration: timedelta, not_after: datetime, count: int
) -> list[Window]:
    """Up to ``count`` windows that overlap neither each other nor a kept
    operation, all ending by ``not_after``, the cheapest first."""
    duration = _minutes_up(duration)
    earliest = _minute_ceil(plan.now)
    kept = [o for o in plan.operations if _kept(o, plan.keep_until)]
    movable = sorted(
        (o for o in plan.operations if not _kept(o, plan.keep_until) and o.end > earliest),
        key=lambda o: (o.setup_start, o.end),
    )
    judged = []
    for start in sorted(_candidate_starts(plan, earliest, duration, not_after, count)):
        end = start + duration
        if any(o.setup_start < end and start < o.end for o in kept):
            continue
        judged.append(_window(plan, movable, start, end))
    judged.sort(
        key=lambda w: (w.displaced_operation_s, w.added_lateness_s, len(w.delayed), w.start)
    )
    chosen: list[Window] = []
    for window in judged:
        if len(chosen) == count:
            break
        if all(window.end <= other.start or other.end <= window.start for other in chosen):
            chosen.append(window)
    return chosen


# -- private -------------------------------------------------------------------------


def _kept(operation: PlannedOperation, keep_until: datetime) -> bool:
    return operation.started or operation.setup_start < keep_until


def _candidate_starts(
    plan: StationPlan, earliest: datetime, duration: timedelta, not_after: datetime, count: int
) -> set[datetime]:
    """The cost of a window changes only where its start or end crosses a boundary
    of the plan, so the cheapest windows start or end at one (on whole minutes).
    Windows back to back from the earliest give choices where the plan has none."""
    boundaries = [earliest + duration * step for step in range(count)] + [not_after]
    for operation in plan.operations:
        boundaries += [operation.setup_start, operation.end]
    for start, end in [*(plan.working or ()), *plan.planned_stops]:
        boundaries += [start, end]
    starts = set()
    for boundary in boundaries:
        for moment in (boundary, boundary - duration):
            for start in (minute_floor(moment), _minute_ceil(moment)):
                if start >= earliest and start + duration <= not_after:
                    starts.add(start)
    return starts


def _window(
    plan: StationPlan, movable: Sequence[PlannedOperation], start: datetime, end: datetime
) -> Window:
    non_working = planned_stop = displaced = idle = 0.0
    operations = [(o.setup_start, o.end) for o in movable if o.setup_start < end and start < o.end]
    cuts = {start, end}
    for span in [*(plan.working or ()), *plan.planned_stops, *operations]:
        cuts.update(moment for moment in span if start < moment < end)
    ordered = sorted(cuts)
    for piece_start, piece_end in itertools.pairwise(ordered):
        seconds = (piece_end - piece_start).total_seconds()
        if plan.working is not None and not _inside(plan.working, piece_start, piece_end):
            non_working += seconds
        elif _inside(plan.planned_stops, piece_start, piece_end):
            planned_stop += seconds
        elif _inside(operations, piece_start, piece_end):
            displaced += seconds
        else:
            idle += seconds
    delayed = _delayed(plan, movable, start, end) if displaced else ()
    return Window(
        station_id=plan.station_id,
        plant_id=plan.plant_id,
        start=start,
        end=end,
        displaced_operation_s=displaced,
        idle_s=idle,
        planned_stop_s=planned_stop,
        non_working_s=non_working,
        delayed=delayed,
        explanation=_explanation(start, end, non_working, planned_stop, idle, displaced, delayed),
    )


def _inside(spans: Iterable[Span], start: datetime, end: datetime) -> bool:
    """Whether the piece [start, end), which no span boundary cuts, lies in a span."""
    return any(span_start <= start and end <= span_end for span_start, span_end in spans)


def _delayed(
    plan: StationPlan, movable: Sequence[PlannedOperation], start: datetime, end: datetime
) -> tuple[DelayedOrder, ...]:
    delays: dict[str, float] = {}
    ready = end
    for operation in movable:
        if operation.end <= start:
            continue
        if operation.setup_start >= ready:
            break
        shift = (ready - operation.setup_start).total_seconds()
        delays[operation.work_order_id] = max(delays.get(operation.work_order_id, 0.0), shift)
        ready = operation.end + timedelta(seconds=shift)
    delayed = []
    for order_id, delay_s in delays.items():
        eta = plan.etas.get(order_id)
        slack_s = (eta.due_time - eta.end_time).total_seconds() if eta else math.inf
        delayed.append(DelayedOrder(order_id, delay_s, max(0.0, delay_s - max(0.0, slack_s))))
    return tuple(sorted(delayed, key=lambda d: (-d.added_lateness_s, -d.delay_s, d.work_order_id)))


def _explanation(
    start: datetime,
    end: datetime,
    non_working: float,
    planned_stop: float,
    idle: float,
    displaced: float,
    delayed: Sequence[DelayedOrder],
) -> str:
    parts = [
        f"{duration_text(seconds)} {what}"
        for seconds, what in (
            (non_working, "outside working time"),
            (planned_stop, "in planned stops"),
            (idle, "idle"),
        )
        if seconds
    ]
    text = f"{duration_text((end - start).total_seconds())} from {time_text(start)}"
    if parts:
        text += ": " + ", ".join(parts)
    if not displaced:
        return f"{text}; displaces no operation"
    orders = ", ".join(d.work_order_id for d in delayed)
    latest = max(d.delay_s for d in delayed)
    lateness = sum(d.added_lateness_s for d in delayed)
    text += (
        f"; displaces {duration_text(displaced)} of operations, moving work order"
        f"{'s' if len(delayed) > 1 else ''} {orders} up to {duration_text(latest)} later"
    )
    if lateness:
        text += f", {duration_text(lateness)} more lateness in all"
    return text


def _minutes_up(duration: timedelta) -> timedelta:
    return MINUTE * math.ceil(duration / MINUTE)


def _minute_ceil(moment: datetime) -> datetime:
    floor = minute_floor(moment)
    return floor if floor == moment else floor + MINUTE
