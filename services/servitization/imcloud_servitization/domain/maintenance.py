"""The maintenance ticket lifecycle, and maintenance planned around production.

A ticket is OPEN until a window is booked for it (SCHEDULED), then IN_PROGRESS
while the work is done, and ends RESOLVED or DISMISSED. An open ticket may also
go straight to work or be dismissed; removing the booking takes a scheduled one
back to OPEN. Every change is kept in the ticket's history (who, when, from, to)
and published.

Booking talks to production (the station's planned downtime, which the scheduler
plans around) before the ticket is changed in its own transaction: production
finds an earlier booking of the same ticket and window again, so a booking
retried after a failure books once; a booking that lost a race with another
change of the ticket is removed again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from imcloud_core.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_servitization.domain.events import MaintenanceTicketChanged
from imcloud_servitization.domain.model import (
    MaintenanceBooking,
    MaintenanceTicket,
    MaintenanceWindow,
    TicketChange,
    TicketNote,
    TicketPriority,
    TicketState,
)
from imcloud_servitization.domain.ports import Machines, Scheduler, UnitOfWork

# Who changes a ticket when an anomaly episode does.
PLATFORM = "platform"
ASSIGNEE_MAX = 120
NOTE_MAX = 5_000

ALLOWED: dict[TicketState, frozenset[TicketState]] = {
    TicketState.OPEN: frozenset(
        {TicketState.SCHEDULED, TicketState.IN_PROGRESS, TicketState.DISMISSED}
    ),
    TicketState.SCHEDULED: frozenset({TicketState.OPEN, TicketState.IN_PROGRESS}),
    TicketState.IN_PROGRESS: frozenset({TicketState.RESOLVED, TicketState.DISMISSED}),
    TicketState.RESOLVED: frozenset(),
    TicketState.DISMISSED: frozenset(),
}
CLOSED = frozenset({TicketState.RESOLVED, TicketState.DISMISSED})

# How far ahead the failure an anomaly of this priority predicts lies: the
# suggested windows all end before it.
FAILURE_WITHIN = {
    TicketPriority.CRITICAL: timedelta(hours=24),
    TicketPriority.HIGH: timedelta(days=3),
    TicketPriority.MEDIUM: timedelta(days=7),
    TicketPriority.LOW: timedelta(days=14),
}
DEFAULT_WINDOWS = 3
MAX_WINDOWS = 10
MAX_DURATION_S = 31 * 86_400


@dataclass(frozen=True)
class Suggestions:
    station_id: str
    not_after: datetime
    windows: list[MaintenanceWindow]


def get_ticket(
    uow: UnitOfWork, *, tenant_id: str, ticket_id: str
) -> tuple[MaintenanceTicket, list[TicketNote]]:
    with uow:
        ticket = _ticket(uow, tenant_id, ticket_id)
        return ticket, uow.tickets.notes(tenant_id=tenant_id, ticket_id=ticket_id)


def update_ticket(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    ticket_id: str,
    assignee: str | None,
    priority: TicketPriority | None,
    actor: str,
) -> MaintenanceTicket:
    """Sets who does the work and how urgent it is; unchanged fields leave no history."""
    if assignee is not None and len(assignee.strip()) > ASSIGNEE_MAX:
        raise InvalidArgument(
            "the ticket is not valid",
            violations=(FieldViolation("assignee", f"at most {ASSIGNEE_MAX} characters"),),
        )
    now = utcnow()
    with uow:
        ticket = _ticket(uow, tenant_id, ticket_id, for_update=True)
        _refuse_closed(ticket, "changed")
        changes = []
        if assignee is not None and assignee.strip() != ticket.assignee:
            changes.append(("assignee", ticket.assignee, assignee.strip()))
            ticket = dataclasses.replace(ticket, assignee=assignee.strip())
        if priority is not None and priority is not ticket.priority:
            changes.append(("priority", ticket.priority.value, priority.value))
            ticket = dataclasses.replace(ticket, priority=priority)
        if not changes:
            return ticket
        ticket = dataclasses.replace(ticket, update_time=now)
        uow.tickets.save(ticket)
        for offset, (field, before, after) in enumerate(changes):
            # One microsecond apart, so the history keeps the order they were made in.
            record_change(
                uow, ticket, actor, field, before, after, at=now + timedelta(microseconds=offset)
            )
    return ticket


def add_note(
    uow: UnitOfWork, *, tenant_id: str, ticket_id: str, text: str, author: str
) -> TicketNote:
    if not text.strip() or len(text) > NOTE_MAX:
        raise InvalidArgument(
            "the note is not valid",
            violations=(FieldViolation("text", f"must be 1..{NOTE_MAX} characters"),),
        )
    now = utcnow()
    with uow:
        ticket = _ticket(uow, tenant_id, ticket_id, for_update=True)
        note = TicketNote(
            id=new_id(),
            tenant_id=tenant_id,
            ticket_id=ticket.id,
            author=author,
            text=text,
            create_time=now,
        )
        uow.tickets.add_note(note)
        ticket = dataclasses.replace(ticket, update_time=now)
        uow.tickets.save(ticket)
        record_change(uow, ticket, author, "note", "", "", at=now, detail=text)
    return note


def history(
    uow: UnitOfWork, *, tenant_id: str, ticket_id: str, requested_page_size: int, page_token: str
) -> tuple[list[TicketChange], str]:
    size = page_size(requested_page_size)
    with uow:
        _ticket(uow, tenant_id, ticket_id)
        return uow.tickets.history(
            tenant_id=tenant_id, ticket_id=ticket_id, page_size=size, page_token=page_token
        )


def transition(
    uow: UnitOfWork,
    scheduler: Scheduler,
    machines: Machines,
    *,
    tenant_id: str,
    ticket_id: str,
    to: TicketState | None,
    reset_anomaly_model: bool,
    actor: str,
) -> MaintenanceTicket:
    """Moves the ticket on. Leaving SCHEDULED for OPEN, or closing a ticket whose
    window has not begun, removes the booked downtime; resolving may make the
    machine's anomaly model start learning afresh."""
    if to is None:
        raise InvalidArgument(
            "the transition is not valid", violations=(FieldViolation("to", "is required"),)
        )
    if to is TicketState.SCHEDULED:
        raise InvalidArgument(
            "the transition is not valid",
            violations=(FieldViolation("to", "a ticket is scheduled by booking a window"),),
        )
    if reset_anomaly_model and to is not TicketState.RESOLVED:
        raise InvalidArgument(
            "the transition is not valid",
            violations=(FieldViolation("reset_anomaly_model", "only when resolving"),),
        )
    with uow:
        ticket = _ticket(uow, tenant_id, ticket_id)
    _check_move(ticket, to)
    # Outside the transaction: calls to other services hold no locks. Both are safe to
    # repeat if the change below fails and the caller tries again.
    detail = ""
    booking = ticket.booking
    if booking is not None and (to is TicketState.OPEN or to in CLOSED):
        if scheduler.unbook(tenant_id=tenant_id, booking=booking):
            detail = f"booked downtime {booking.planned_downtime_id} removed"
            booking = None
        else:
            detail = f"booked downtime {booking.planned_downtime_id} had begun and stays"
            # Back to OPEN, the ticket waits for a booking of its own again.
            booking = None if to is TicketState.OPEN else booking
    if reset_anomaly_model:
        machines.reset_anomaly_model(tenant_id=tenant_id, equipment_id=ticket.equipment_id)
        detail = "; ".join(filter(None, [detail, "the machine's anomaly model was reset"]))
    now = utcnow()
    with uow:
        current = _ticket(uow, tenant_id, ticket_id, for_update=True)
        _check_move(current, to)
        moved = dataclasses.replace(current, state=to, booking=booking, update_time=now)
        uow.tickets.save(moved)
        record_change(
            uow, moved, actor, "state", current.state.value, to.value, at=now, detail=detail
        )
    return moved


def suggest_windows(
    uow: UnitOfWork,
    scheduler: Scheduler,
    machines: Machines,
    *,
    tenant_id: str,
    ticket_id: str,
    duration_s: int,
    count: int,
) -> Suggestions:
    """Windows on the machine's station's plan that cost production least, all
    ending before the failure the ticket's priority predicts (FAILURE_WITHIN)."""
    violations = []
    if not 60 <= duration_s <= MAX_DURATION_S:
        violations.append(FieldViolation("duration", "must be 1 minute .. 31 days"))
    if not 0 <= count <= MAX_WINDOWS:
        violations.append(FieldViolation("count", f"must be 1..{MAX_WINDOWS}"))
    if violations:
        raise InvalidArgument("the window request is not valid", violations=tuple(violations))
    with uow:
        ticket = _ticket(uow, tenant_id, ticket_id)
    _refuse_closed(ticket, "planned")
    station_id = _station(machines, ticket)
    not_after = utcnow() + max(FAILURE_WITHIN[ticket.priority], timedelta(seconds=duration_s + 60))
    windows = scheduler.suggest_windows(
        tenant_id=tenant_id,
        station_id=station_id,
        duration_s=duration_s,
        not_after=not_after,
        count=count or DEFAULT_WINDOWS,
    )
    return Suggestions(station_id=station_id, not_after=not_after, windows=windows)


def book_window(
    uow: UnitOfWork,
    scheduler: Scheduler,
    machines: Machines,
    *,
    tenant_id: str,
    ticket_id: str,
    start: datetime,
    end: datetime,
    actor: str,
) -> MaintenanceTicket:
    """Reserves the machine's station for the window as planned downtime; the
    ticket becomes SCHEDULED."""
    with uow:
        ticket = _ticket(uow, tenant_id, ticket_id)
    _check_move(ticket, TicketState.SCHEDULED)
    station_id = _station(machines, ticket)
    booking = scheduler.book(
        tenant_id=tenant_id, station_id=station_id, start=start, end=end, label=label(ticket)
    )
    now = utcnow()
    try:
        with uow:
            current = _ticket(uow, tenant_id, ticket_id, for_update=True)
            _check_move(current, TicketState.SCHEDULED)
            scheduled = dataclasses.replace(
                current, state=TicketState.SCHEDULED, booking=booking, update_time=now
            )
            uow.tickets.save(scheduled)
            record_change(
                uow,
                scheduled,
                actor,
                "state",
                current.state.value,
                TicketState.SCHEDULED.value,
                at=now,
                detail=f"{window_text(booking)} booked as planned downtime "
                f"{booking.planned_downtime_id}",
            )
    except FailedPrecondition:
        # The ticket moved on meanwhile: the window is no longer wanted.
        scheduler.unbook(tenant_id=tenant_id, booking=booking)
        raise
    return scheduled


def record_change(
    uow: UnitOfWork,
    ticket: MaintenanceTicket,
    actor: str,
    field: str,
    before: str,
    after: str,
    *,
    at: datetime,
    detail: str = "",
    publish: bool = True,
) -> TicketChange:
    """Adds to the ticket's history and, unless the caller publishes a message of
    its own for the change, publishes it."""
    change = TicketChange(
        id=new_id(),
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        actor=actor,
        change_time=at,
        field=field,
        from_value=before,
        to_value=after,
        detail=detail,
    )
    uow.tickets.add_change(change)
    if publish:
        uow.record(MaintenanceTicketChanged(ticket, change))
    return change


def label(ticket: MaintenanceTicket) -> str:
    """What the booked downtime's reason starts with: the ticket it is for."""
    return f"maintenance ticket {ticket.id}"


def window_text(booking: MaintenanceBooking) -> str:
    return (
        f"{booking.start_time.strftime('%Y-%m-%d %H:%M')} to "
        f"{booking.end_time.strftime('%Y-%m-%d %H:%M UTC')}"
    )


# -- private -------------------------------------------------------------------------


def _ticket(
    uow: UnitOfWork, tenant_id: str, ticket_id: str, *, for_update: bool = False
) -> MaintenanceTicket:
    ticket = uow.tickets.get(tenant_id=tenant_id, ticket_id=ticket_id, for_update=for_update)
    if ticket is None:
        raise NotFound(f"maintenance ticket {ticket_id!r} not found")
    return ticket


def _check_move(ticket: MaintenanceTicket, to: TicketState) -> None:
    if to not in ALLOWED[ticket.state]:
        allowed = ", ".join(sorted(state.value for state in ALLOWED[ticket.state])) or "none"
        raise FailedPrecondition(
            f"maintenance ticket {ticket.id!r} cannot go from {ticket.state.value} to "
            f"{to.value} (from {ticket.state.value}: {allowed})"
        )


def _refuse_closed(ticket: MaintenanceTicket, what: str) -> None:
    if ticket.state in CLOSED:
        raise FailedPrecondition(
            f"maintenance ticket {ticket.id!r} is {ticket.state.value} and is not {what} any more"
        )


def _station(machines: Machines, ticket: MaintenanceTicket) -> str:
    station_id = machines.station_of(tenant_id=ticket.tenant_id, equipment_id=ticket.equipment_id)
    if not station_id:
        raise FailedPrecondition(
            f"machine {ticket.equipment_id!r} stands at no station: place it at one to plan "
            "its maintenance around production"
        )
    return station_id
