"""The maintenance ticket lifecycle on its own (no database): every move it
allows, and every other one refused naming both states, changing nothing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import pytest

from imcloud_core.errors import FailedPrecondition, InvalidArgument
from imcloud_servitization.domain import maintenance
from imcloud_servitization.domain.model import (
    MaintenanceBooking,
    MaintenanceTicket,
    TicketChange,
    TicketPriority,
    TicketState,
)

S = TicketState
# The lifecycle as the issue states it; SCHEDULED is reached by booking only.
ALLOWED = {
    (S.OPEN, S.SCHEDULED),
    (S.SCHEDULED, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.RESOLVED),
    (S.IN_PROGRESS, S.DISMISSED),
    (S.OPEN, S.IN_PROGRESS),
    (S.OPEN, S.DISMISSED),
    (S.SCHEDULED, S.OPEN),
}
NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)
BOOKING = MaintenanceBooking("downtime-1", "plant-1", "station-1", NOW, NOW)


class Tickets:
    def __init__(self, ticket: MaintenanceTicket) -> None:
        self.ticket = ticket
        self.changes: list[TicketChange] = []

    def get(self, *, tenant_id: str, ticket_id: str, for_update: bool = False) -> Any:
        return self.ticket if ticket_id == self.ticket.id else None

    def save(self, ticket: MaintenanceTicket) -> None:
        self.ticket = ticket

    def add_change(self, change: TicketChange) -> None:
        self.changes.append(change)


class Work:
    """A unit of work over one ticket; events count only when it commits."""

    def __init__(self, ticket: MaintenanceTicket) -> None:
        self.tickets = Tickets(ticket)
        self.events: list[object] = []
        self._staged: list[object] = []

    def __enter__(self) -> Self:
        self._staged = []
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.events += self._staged

    def record(self, event: object) -> None:
        self._staged.append(event)


class Scheduler:
    def __init__(self) -> None:
        self.booked: list[str] = []
        self.removed: list[str] = []

    def book(self, **_: Any) -> MaintenanceBooking:
        self.booked.append(BOOKING.planned_downtime_id)
        return BOOKING

    def unbook(self, *, tenant_id: str, booking: MaintenanceBooking) -> bool:
        self.removed.append(booking.planned_downtime_id)
        return True


class Machines:
    def station_of(self, **_: Any) -> str:
        return "station-1"

    def reset_anomaly_model(self, **_: Any) -> None:
        raise AssertionError("not asked to reset")


def ticket_in(state: TicketState) -> MaintenanceTicket:
    return MaintenanceTicket(
        id="ticket-1",
        tenant_id="tenant-1",
        equipment_id="machine-1",
        title="Spindle runs hot",
        description="",
        priority=TicketPriority.HIGH,
        state=state,
        create_time=NOW,
        update_time=NOW,
        booking=BOOKING if state is not S.OPEN else None,
    )


def moved(state: TicketState, to: TicketState, work: Work, scheduler: Scheduler) -> Any:
    if to is S.SCHEDULED:
        return maintenance.book_window(
            work,  # type: ignore[arg-type]
            scheduler,  # type: ignore[arg-type]
            Machines(),  # type: ignore[arg-type]
            tenant_id="tenant-1",
            ticket_id="ticket-1",
            start=NOW,
            end=NOW,
            actor="ana",
        )
    return maintenance.transition(
        work,  # type: ignore[arg-type]
        scheduler,  # type: ignore[arg-type]
        Machines(),  # type: ignore[arg-type]
        tenant_id="tenant-1",
        ticket_id="ticket-1",
        to=to,
        reset_anomaly_model=False,
        actor="ana",
    )


@pytest.mark.parametrize(("state", "to"), list(itertools.product(S, S)))
def test_each_move_is_allowed_or_refused_as_the_lifecycle_says(
    state: TicketState, to: TicketState
) -> None:
    work, scheduler = Work(ticket_in(state)), Scheduler()
    if (state, to) in ALLOWED:
        ticket = moved(state, to, work, scheduler)
        assert ticket.state is to
        (change,) = work.tickets.changes
        assert (change.actor, change.field, change.from_value, change.to_value) == (
            "ana",
            "state",
            state.value,
            to.value,
        )
        assert len(work.events) == 1
        return
    with pytest.raises(FailedPrecondition) as refused:
        moved(state, to, work, scheduler)
    assert f"from {state.value} to {to.value}" in refused.value.message
    assert work.tickets.ticket == ticket_in(state)
    assert (work.tickets.changes, work.events, scheduler.booked, scheduler.removed) == (
        [],
        [],
        [],
        [],
    )


@pytest.mark.parametrize(
    ("state", "to", "removes"),
    [
        (S.SCHEDULED, S.OPEN, True),
        (S.SCHEDULED, S.IN_PROGRESS, False),  # the work happens in the window
        (S.IN_PROGRESS, S.RESOLVED, True),  # early: the window has not begun
        (S.IN_PROGRESS, S.DISMISSED, True),
    ],
)
def test_leaving_the_window_removes_its_booking(
    state: TicketState, to: TicketState, removes: bool
) -> None:
    work, scheduler = Work(ticket_in(state)), Scheduler()
    ticket = moved(state, to, work, scheduler)
    assert scheduler.removed == (["downtime-1"] if removes else [])
    assert ticket.booking == (None if removes else BOOKING)


def test_a_move_needs_a_target_state() -> None:
    work = Work(ticket_in(S.OPEN))
    with pytest.raises(InvalidArgument) as refused:
        maintenance.transition(
            work,  # type: ignore[arg-type]
            Scheduler(),  # type: ignore[arg-type]
            Machines(),  # type: ignore[arg-type]
            tenant_id="tenant-1",
            ticket_id="ticket-1",
            to=None,
            reset_anomaly_model=False,
            actor="ana",
        )
    assert [v.field for v in refused.value.violations] == ["to"]
    assert work.tickets.ticket == ticket_in(S.OPEN)
