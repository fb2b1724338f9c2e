"""A maintenance ticket's lifecycle through the store, on both databases: moves the
lifecycle allows and refuses, booking and unbooking the window in the schedule
(production stood in for), notes, history and the events of every change."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from imcloud.common.v1.events_pb2 import EventEnvelope
from imcloud.servitization.v1 import maintenance_pb2
from imcloud_core.db import Database
from imcloud_core.errors import FailedPrecondition, InvalidArgument, NotFound
from imcloud_core.events import Topic
from imcloud_servitization.domain import maintenance, services
from imcloud_servitization.domain.model import (
    MaintenanceBooking,
    MaintenanceTicket,
    MaintenanceWindow,
    TicketPriority,
    TicketState,
)
from imcloud_servitization.module import unit_of_work
from imcloud_servitization.store.tables import outbox
from tests.support.databases import migrated_database

TENANT = "tenant-1"
START = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
END = START + timedelta(hours=2)


@dataclass
class FakeScheduler:
    """Production's planned downtime, as a list; refuses to remove what has begun."""

    booked: dict[str, MaintenanceBooking] = field(default_factory=dict)
    begun: set[str] = field(default_factory=set)
    asked: list[tuple[str, datetime]] = field(default_factory=list)

    def suggest_windows(
        self, *, tenant_id: str, station_id: str, duration_s: int, not_after: datetime, count: int
    ) -> list[MaintenanceWindow]:
        self.asked.append((station_id, not_after))
        return []

    def book(
        self, *, tenant_id: str, station_id: str, start: datetime, end: datetime, label: str
    ) -> MaintenanceBooking:
        booking = MaintenanceBooking(str(uuid.uuid4()), "plant-1", station_id, start, end)
        self.booked[booking.planned_downtime_id] = booking
        return booking

    def unbook(self, *, tenant_id: str, booking: MaintenanceBooking) -> bool:
        if booking.planned_downtime_id in self.begun:
            return False
        self.booked.pop(booking.planned_downtime_id, None)
        return True


@dataclass
class FakeMachines:
    stations: dict[str, str] = field(default_factory=lambda: {"machine-1": "station-1"})
    resets: list[str] = field(default_factory=list)

    def station_of(self, *, tenant_id: str, equipment_id: str) -> str:
        return self.stations.get(equipment_id, "")

    def reset_anomaly_model(self, *, tenant_id: str, equipment_id: str) -> None:
        self.resets.append(equipment_id)


@pytest.fixture
def db(empty_database_url: str) -> Iterator[Database]:
    with migrated_database(empty_database_url, "imcloud_servitization") as database:
        yield database


@dataclass
class Desk:
    db: Database
    scheduler: FakeScheduler = field(default_factory=FakeScheduler)
    machines: FakeMachines = field(default_factory=FakeMachines)

    def open(self, priority: TicketPriority = TicketPriority.MEDIUM) -> MaintenanceTicket:
        return services.open_maintenance_ticket(
            unit_of_work(self.db)(),
            tenant_id=TENANT,
            equipment_id="machine-1",
            title="Spindle runs hot",
            description="",
            priority=priority,
            actor="ana",
        )

    def move(
        self, ticket: MaintenanceTicket, to: TicketState, *, reset: bool = False
    ) -> MaintenanceTicket:
        return maintenance.transition(
            unit_of_work(self.db)(),
            self.scheduler,
            self.machines,
            tenant_id=TENANT,
            ticket_id=ticket.id,
            to=to,
            reset_anomaly_model=reset,
            actor="bo",
        )

    def book(self, ticket: MaintenanceTicket) -> MaintenanceTicket:
        return maintenance.book_window(
            unit_of_work(self.db)(),
            self.scheduler,
            self.machines,
            tenant_id=TENANT,
            ticket_id=ticket.id,
            start=START,
            end=END,
            actor="bo",
        )

    def history(self, ticket: MaintenanceTicket) -> list[tuple[str, str, str, str]]:
        changes, _ = maintenance.history(
            unit_of_work(self.db)(),
            tenant_id=TENANT,
            ticket_id=ticket.id,
            requested_page_size=100,
            page_token="",
        )
        return [(c.actor, c.field, c.from_value, c.to_value) for c in changes]

    def events(self) -> list[tuple[str, str]]:
        with self.db.transaction() as session:
            rows = session.execute(select(outbox).order_by(outbox.c.position)).all()
        found = []
        for row in rows:
            envelope = EventEnvelope()
            envelope.ParseFromString(row.envelope)
            found.append((row.topic, envelope.type))
        return found


@pytest.fixture
def desk(db: Database) -> Desk:
    return Desk(db)


def test_a_ticket_is_booked_worked_on_and_resolved_and_its_history_tells_each_step(
    desk: Desk,
) -> None:
    ticket = desk.open()
    scheduled = desk.book(ticket)
    assert scheduled.state is TicketState.SCHEDULED
    assert scheduled.booking is not None
    assert (scheduled.booking.start_time, scheduled.booking.end_time) == (START, END)
    assert scheduled.booking.station_id == "station-1"
    assert list(desk.scheduler.booked) == [scheduled.booking.planned_downtime_id]

    working = desk.move(ticket, TicketState.IN_PROGRESS)
    assert working.booking == scheduled.booking  # the work happens in the booked window
    desk.scheduler.begun.add(scheduled.booking.planned_downtime_id)
    resolved = desk.move(ticket, TicketState.RESOLVED, reset=True)
    assert resolved.state is TicketState.RESOLVED
    assert desk.machines.resets == ["machine-1"]
    # The window had begun: production keeps it as part of the record.
    assert list(desk.scheduler.booked) == [scheduled.booking.planned_downtime_id]

    assert desk.history(ticket) == [
        ("ana", "opened", "", "open"),
        ("bo", "state", "open", "scheduled"),
        ("bo", "state", "scheduled", "in_progress"),
        ("bo", "state", "in_progress", "resolved"),
    ]
    assert [event for topic, event in desk.events() if topic == Topic.MAINTENANCE] == [
        "maintenance_ticket.opened",
        "maintenance_ticket.booked",
        "maintenance_ticket.transitioned",
        "maintenance_ticket.transitioned",
    ]


def test_unbooking_removes_the_downtime_and_reopens_the_ticket(desk: Desk) -> None:
    ticket = desk.open()
    desk.book(ticket)
    reopened = desk.move(ticket, TicketState.OPEN)
    assert reopened.state is TicketState.OPEN
    assert reopened.booking is None
    assert desk.scheduler.booked == {}
    # It can be booked again, and resolving early (before the window) removes that booking.
    desk.book(ticket)
    desk.move(ticket, TicketState.IN_PROGRESS)
    done = desk.move(ticket, TicketState.DISMISSED)
    assert done.booking is None
    assert desk.scheduler.booked == {}


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([], TicketState.RESOLVED),
        ([TicketState.DISMISSED], TicketState.OPEN),
        ([TicketState.IN_PROGRESS], TicketState.OPEN),
        ([TicketState.IN_PROGRESS, TicketState.RESOLVED], TicketState.IN_PROGRESS),
        ([TicketState.IN_PROGRESS], TicketState.IN_PROGRESS),
    ],
)
def test_a_move_the_lifecycle_does_not_allow_is_refused_naming_both_states(
    desk: Desk, path: list[TicketState], refused: TicketState
) -> None:
    ticket = desk.open()
    for step in path:
        ticket = desk.move(ticket, step)
    with pytest.raises(FailedPrecondition) as refusal:
        desk.move(ticket, refused)
    assert f"from {ticket.state.value} to {refused.value}" in refusal.value.message
    ticket_now, _ = maintenance.get_ticket(
        unit_of_work(desk.db)(), tenant_id=TENANT, ticket_id=ticket.id
    )
    assert ticket_now.state is ticket.state


def test_a_ticket_in_progress_cannot_be_booked_and_books_nothing(desk: Desk) -> None:
    ticket = desk.move(desk.open(), TicketState.IN_PROGRESS)
    with pytest.raises(FailedPrecondition, match="from in_progress to scheduled"):
        desk.book(ticket)
    assert desk.scheduler.booked == {}


def test_scheduled_is_reached_only_by_booking_and_reset_only_when_resolving(desk: Desk) -> None:
    ticket = desk.open()
    with pytest.raises(InvalidArgument) as by_transition:
        desk.move(ticket, TicketState.SCHEDULED)
    assert by_transition.value.violations[0].field == "to"
    with pytest.raises(InvalidArgument) as reset:
        desk.move(ticket, TicketState.IN_PROGRESS, reset=True)
    assert reset.value.violations[0].field == "reset_anomaly_model"
    assert desk.machines.resets == []


def test_a_machine_at_no_station_gets_no_window(desk: Desk) -> None:
    desk.machines.stations.clear()
    ticket = desk.open()
    with pytest.raises(FailedPrecondition, match="stands at no station"):
        desk.book(ticket)
    assert desk.scheduler.booked == {}


@pytest.mark.parametrize(
    ("priority", "within"),
    [
        (TicketPriority.CRITICAL, timedelta(hours=24)),
        (TicketPriority.HIGH, timedelta(days=3)),
        (TicketPriority.MEDIUM, timedelta(days=7)),
        (TicketPriority.LOW, timedelta(days=14)),
    ],
)
def test_the_suggested_windows_end_before_the_failure_the_priority_predicts(
    desk: Desk, priority: TicketPriority, within: timedelta
) -> None:
    ticket = desk.open(priority)
    before = datetime.now(UTC)
    found = maintenance.suggest_windows(
        unit_of_work(desk.db)(),
        desk.scheduler,
        desk.machines,
        tenant_id=TENANT,
        ticket_id=ticket.id,
        duration_s=3600,
        count=3,
    )
    ((station_id, not_after),) = desk.scheduler.asked
    assert station_id == found.station_id == "station-1"
    assert before + within <= not_after <= datetime.now(UTC) + within


def test_notes_are_kept_in_order_with_their_author_and_updates_are_history(desk: Desk) -> None:
    ticket = desk.open()
    uow = unit_of_work(desk.db)
    maintenance.add_note(uow(), tenant_id=TENANT, ticket_id=ticket.id, text="Hot", author="ana")
    maintenance.add_note(uow(), tenant_id=TENANT, ticket_id=ticket.id, text="Oil", author="bo")
    updated = maintenance.update_ticket(
        uow(),
        tenant_id=TENANT,
        ticket_id=ticket.id,
        assignee="Carla",
        priority=TicketPriority.HIGH,
        actor="ana",
    )
    assert (updated.assignee, updated.priority) == ("Carla", TicketPriority.HIGH)
    # The same values again change nothing and leave no history.
    maintenance.update_ticket(
        uow(),
        tenant_id=TENANT,
        ticket_id=ticket.id,
        assignee="Carla",
        priority=TicketPriority.HIGH,
        actor="ana",
    )
    _, notes = maintenance.get_ticket(uow(), tenant_id=TENANT, ticket_id=ticket.id)
    assert [(n.author, n.text) for n in notes] == [("ana", "Hot"), ("bo", "Oil")]
    assert desk.history(ticket)[1:] == [
        ("ana", "note", "", ""),
        ("bo", "note", "", ""),
        ("ana", "assignee", "", "Carla"),
        ("ana", "priority", "medium", "high"),
    ]
    with pytest.raises(InvalidArgument):
        maintenance.add_note(uow(), tenant_id=TENANT, ticket_id=ticket.id, text=" ", author="x")
    assert [event for _, event in desk.events()][-4:] == [
        "maintenance_ticket.note_added",
        "maintenance_ticket.note_added",
        "maintenance_ticket.updated",
        "maintenance_ticket.updated",
    ]


def test_another_tenants_ticket_is_not_found(desk: Desk) -> None:
    ticket = desk.open()
    uow = unit_of_work(desk.db)
    with pytest.raises(NotFound):
        maintenance.get_ticket(uow(), tenant_id="tenant-2", ticket_id=ticket.id)
    with pytest.raises(NotFound):
        maintenance.transition(
            uow(),
            desk.scheduler,
            desk.machines,
            tenant_id="tenant-2",
            ticket_id=ticket.id,
            to=TicketState.DISMISSED,
            reset_anomaly_model=False,
            actor="eve",
        )


def test_the_lists_filter_by_state(desk: Desk) -> None:
    first, second = desk.open(), desk.open()
    desk.book(second)
    found, _ = services.list_maintenance_tickets(
        unit_of_work(desk.db)(),
        tenant_id=TENANT,
        equipment_id="",
        requested_page_size=50,
        page_token="",
        states=[TicketState.SCHEDULED],
    )
    assert [t.id for t in found] == [second.id]
    assert first.id != second.id


def test_the_changed_event_carries_the_ticket_and_the_change(desk: Desk) -> None:
    ticket = desk.open()
    desk.move(ticket, TicketState.DISMISSED)
    with desk.db.transaction() as session:
        row = session.execute(select(outbox).order_by(outbox.c.position.desc())).first()
    assert row is not None
    assert (row.topic, row.key) == (Topic.MAINTENANCE, "machine-1")
    envelope = EventEnvelope()
    envelope.ParseFromString(row.envelope)
    changed = maintenance_pb2.MaintenanceTicketChanged()
    assert envelope.payload.Unpack(changed)
    assert changed.ticket.id == ticket.id
    assert changed.ticket.state == maintenance_pb2.TICKET_STATE_DISMISSED
    assert (changed.change.from_value, changed.change.to_value) == ("open", "dismissed")


def test_an_escalating_episode_raises_its_ticket_in_the_history_and_on_the_topic(
    desk: Desk,
) -> None:
    def news(severity: str) -> MaintenanceTicket | None:
        return services.ticket_for_anomaly(
            unit_of_work(desk.db)(),
            tenant_id=TENANT,
            equipment_id="machine-1",
            episode_id="m1/anomaly/1-1",
            severity=severity,
            top_signals=["vibration"],
        )

    assert news("low") is None
    opened = news("medium")
    assert opened is not None
    assert news("medium") is None  # a redelivery
    raised = news("high")
    assert raised is not None
    assert raised.id == opened.id
    assert desk.history(opened) == [
        ("platform", "opened", "", "open"),
        ("platform", "priority", "medium", "high"),
    ]
    assert desk.events() == [
        (Topic.MAINTENANCE, "maintenance_ticket.opened"),
        (Topic.MAINTENANCE, "maintenance_ticket.escalated"),
    ]


def test_a_window_that_has_begun_stays_in_the_schedule_when_the_ticket_reopens(
    desk: Desk,
) -> None:
    ticket = desk.open()
    booking = desk.book(ticket).booking
    assert booking is not None
    desk.scheduler.begun.add(booking.planned_downtime_id)
    reopened = desk.move(ticket, TicketState.OPEN)
    assert reopened.booking is None
    assert list(desk.scheduler.booked) == [booking.planned_downtime_id]
    changes, _ = maintenance.history(
        unit_of_work(desk.db)(),
        tenant_id=TENANT,
        ticket_id=ticket.id,
        requested_page_size=10,
        page_token="",
    )
    assert "had begun and stays" in changes[-1].detail
