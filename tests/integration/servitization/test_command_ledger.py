"""The command ledger through its store, on SQLite and PostgreSQL: idempotent
submissions, receipts, resends with backoff, cancellation, late answers and the
filters an operator and an equipment maker list commands with."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from imcloud.common.v1.events_pb2 import EventEnvelope
from imcloud.servitization.v1 import commands_pb2
from imcloud_core.bus import Record
from imcloud_core.db import Database
from imcloud_core.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from imcloud_core.events import Topic, new_envelope, parse_envelope, unpack
from imcloud_core.ids import utcnow
from imcloud_servitization.domain import commands
from imcloud_servitization.domain.model import CommandState, RemoteCommand
from imcloud_servitization.events.handlers import command_progress_handler
from imcloud_servitization.module import unit_of_work
from imcloud_servitization.store.tables import outbox
from tests.support.databases import migrated_database

TENANT = "tenant-1"
MACHINE = "machine-1"
OPERATOR = "key:operator"
MAKER_TENANT = "maker-1"
MAKER = f"key:maker-key@{MAKER_TENANT}"


@pytest.fixture
def db(empty_database_url: str) -> Iterator[Database]:
    with migrated_database(empty_database_url, "imcloud_servitization") as database:
        yield database


def send(db: Database, **overrides: Any) -> commands.SentCommand:
    request: dict[str, Any] = {
        "tenant_id": TENANT,
        "equipment_id": MACHINE,
        "name": "set_speed",
        "parameters": {"rpm": 1200, "steps": 3},
        "timeout_s": 60,
        "requested_by": OPERATOR,
        **overrides,
    }
    return commands.send_command(unit_of_work(db)(), **request)


def get(db: Database, command_id: str) -> RemoteCommand:
    return commands.get_command(unit_of_work(db)(), tenant_id=TENANT, command_id=command_id)


def published(db: Database) -> list[tuple[str, EventEnvelope]]:
    """What the outbox relay would publish, oldest first: (topic, envelope)."""
    with db.transaction() as session:
        rows = session.execute(
            select(outbox.c.topic, outbox.c.envelope).order_by(outbox.c.position)
        ).all()
    return [(row.topic, parse_envelope(row.envelope)) for row in rows]


def requested_attempts(db: Database, command_id: str) -> list[int]:
    found = []
    for topic, envelope in published(db):
        requested = unpack(envelope, commands_pb2.CommandRequested)
        if topic == Topic.COMMANDS and requested and requested.command.id == command_id:
            found.append(requested.command.attempts)
    return found


def news(
    command_id: str,
    stage: commands_pb2.CommandStage.ValueType,
    detail: str = "",
    machine: str = MACHINE,
) -> Record:
    envelope = new_envelope(
        tenant_id=TENANT,
        event_type="command.progressed",
        payload=commands_pb2.CommandProgressed(
            command_id=command_id, equipment_id=machine, stage=stage, detail=detail
        ),
        source="gateway",
    )
    return Record(Topic.COMMAND_RESULTS, 0, 0, machine, envelope.SerializeToString())


def test_the_same_key_and_request_return_the_first_command_and_send_nothing_more(
    db: Database,
) -> None:
    first = send(db, idempotency_key="order-77")
    again = send(db, idempotency_key="order-77")
    assert not first.replayed
    assert again.replayed
    assert again.command.id == first.command.id
    assert requested_attempts(db, first.command.id) == [1]
    other = send(db)  # no key: every submission is a new command
    assert other.command.id != first.command.id


def test_the_same_key_with_another_request_is_refused_naming_the_key(db: Database) -> None:
    send(db, idempotency_key="order-77")
    with pytest.raises(AlreadyExists, match="order-77"):
        send(db, idempotency_key="order-77", parameters={"rpm": 1300, "steps": 3})
    # A maker reusing the customer's key gets a conflict, never the customer's command.
    with pytest.raises(AlreadyExists):
        send(db, idempotency_key="order-77", requested_by=MAKER)
    # Keys belong to their tenant.
    elsewhere = send(db, idempotency_key="order-77", tenant_id="tenant-2")
    assert not elsewhere.replayed


def test_concurrent_submissions_with_one_key_make_one_command(db: Database) -> None:
    results: list[commands.SentCommand] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            results.append(send(db, idempotency_key="burst"))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len({r.command.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1


def test_an_invalid_key_or_parameters_are_refused_by_field(db: Database) -> None:
    with pytest.raises(InvalidArgument) as refused:
        send(db, idempotency_key="has space")
    assert [v.field for v in refused.value.violations] == ["idempotency_key"]


def test_only_the_machines_receipt_makes_a_command_delivered(db: Database) -> None:
    handle = command_progress_handler(unit_of_work(db))
    sent = send(db).command
    assert get(db, sent.id).state is CommandState.PENDING
    handle([news(sent.id, commands_pb2.COMMAND_STAGE_DELIVERED, machine="machine-2")])
    assert get(db, sent.id).state is CommandState.PENDING  # another machine's word
    handle([news(sent.id, commands_pb2.COMMAND_STAGE_DELIVERED)])
    delivered = get(db, sent.id)
    assert delivered.state is CommandState.DELIVERED
    assert delivered.next_attempt_time is None  # confirmed: no more resends
    handle([news(sent.id, commands_pb2.COMMAND_STAGE_SUCCEEDED, "at 1200 rpm")])
    handle([news(sent.id, commands_pb2.COMMAND_STAGE_DELIVERED)])  # a late receipt
    done = get(db, sent.id)
    assert (done.state, done.detail, done.late) == (CommandState.SUCCEEDED, "at 1200 rpm", False)


def test_a_command_without_receipt_is_sent_again_with_growing_backoff(db: Database) -> None:
    sent = send(db, timeout_s=600).command
    confirmed = send(db, timeout_s=600).command
    commands.progress(
        unit_of_work(db)(),
        tenant_id=TENANT,
        equipment_id=MACHINE,
        command_id=confirmed.id,
        to=CommandState.DELIVERED,
        detail="",
    )
    created = sent.create_time
    resend = commands.resend_unconfirmed
    assert resend(unit_of_work(db)(), now=created + timedelta(seconds=4)) == []
    due = [c.id for c in resend(unit_of_work(db)(), now=created + timedelta(seconds=5))]
    assert due == [sent.id]  # the confirmed one is not sent again
    # The second resend waits 10 s after the first, the third 20 s after that.
    assert resend(unit_of_work(db)(), now=created + timedelta(seconds=14)) == []
    assert len(resend(unit_of_work(db)(), now=created + timedelta(seconds=15))) == 1
    assert resend(unit_of_work(db)(), now=created + timedelta(seconds=34)) == []
    assert len(resend(unit_of_work(db)(), now=created + timedelta(seconds=35))) == 1
    assert requested_attempts(db, sent.id) == [1, 2, 3, 4]
    assert get(db, sent.id).attempts == 4
    # Never past its expiry.
    assert resend(unit_of_work(db)(), now=created + timedelta(seconds=601)) == []


def test_an_answer_after_the_expiry_is_kept_as_late(db: Database) -> None:
    handle = command_progress_handler(unit_of_work(db))
    sent = send(db, timeout_s=1).command
    handle([news(sent.id, commands_pb2.COMMAND_STAGE_DELIVERED)])
    (expired,) = commands.expire_overdue(
        unit_of_work(db)(), now=sent.expire_time + timedelta(seconds=1)
    )
    assert expired.state is CommandState.EXPIRED
    assert "did not answer in time" in expired.detail
    handle([news(sent.id, commands_pb2.COMMAND_STAGE_SUCCEEDED, "done, 3 s late")])
    late = get(db, sent.id)
    assert (late.state, late.detail, late.late) == (CommandState.SUCCEEDED, "done, 3 s late", True)
    handle([news(sent.id, commands_pb2.COMMAND_STAGE_FAILED, "a repeat")])
    assert get(db, sent.id).detail == "done, 3 s late"  # the first late answer is kept


def test_cancelling_a_waiting_command_ends_it_and_tells_the_machine(db: Database) -> None:
    sent = send(db).command
    cancelled, newly = commands.cancel_command(
        unit_of_work(db)(), tenant_id=TENANT, command_id=sent.id, cancelled_by=OPERATOR
    )
    assert newly
    assert (cancelled.state, cancelled.cancelled_by) == (CommandState.CANCELLED, OPERATOR)
    again, newly = commands.cancel_command(
        unit_of_work(db)(), tenant_id=TENANT, command_id=sent.id, cancelled_by="key:other"
    )
    assert not newly
    assert again.cancelled_by == OPERATOR
    cancellations = [
        unpack(envelope, commands_pb2.CommandCancelled)
        for topic, envelope in published(db)
        if topic == Topic.COMMANDS and envelope.type == "command.cancelled"
    ]
    assert [(c.command_id, c.equipment_id) for c in cancellations if c] == [(sent.id, MACHINE)]
    # Never sent again.
    later = sent.create_time + timedelta(seconds=30)
    assert commands.resend_unconfirmed(unit_of_work(db)(), now=later) == []


def test_an_ended_command_cannot_be_cancelled(db: Database) -> None:
    sent = send(db).command
    commands.progress(
        unit_of_work(db)(),
        tenant_id=TENANT,
        equipment_id=MACHINE,
        command_id=sent.id,
        to=CommandState.SUCCEEDED,
        detail="",
    )
    with pytest.raises(FailedPrecondition, match="already succeeded"):
        commands.cancel_command(
            unit_of_work(db)(), tenant_id=TENANT, command_id=sent.id, cancelled_by=OPERATOR
        )
    with pytest.raises(NotFound):
        commands.cancel_command(
            unit_of_work(db)(), tenant_id="tenant-2", command_id=sent.id, cancelled_by=OPERATOR
        )


def test_an_equipment_maker_sees_and_cancels_only_the_commands_it_sent(db: Database) -> None:
    own = send(db).command
    makers = send(db, requested_by=MAKER).command
    other_maker = send(db, requested_by="key:k@maker-2").command

    def listed(**filters: Any) -> list[str]:
        found, _ = commands.list_commands(
            unit_of_work(db)(),
            tenant_id=TENANT,
            equipment_id=MACHINE,
            states=filters.pop("states", []),
            requested_page_size=50,
            page_token="",
            **filters,
        )
        return [c.id for c in found]

    assert listed() == [other_maker.id, makers.id, own.id]
    assert listed(maker_tenant_id=MAKER_TENANT) == [makers.id]
    maker_view = {"tenant_id": TENANT, "maker_tenant_id": MAKER_TENANT}
    assert commands.get_command(unit_of_work(db)(), command_id=makers.id, **maker_view).id
    for not_its_own in (own.id, other_maker.id):
        with pytest.raises(NotFound):
            commands.get_command(unit_of_work(db)(), command_id=not_its_own, **maker_view)
        with pytest.raises(NotFound):
            commands.cancel_command(
                unit_of_work(db)(), command_id=not_its_own, cancelled_by=MAKER, **maker_view
            )
    commands.cancel_command(
        unit_of_work(db)(), command_id=makers.id, cancelled_by=MAKER, **maker_view
    )
    assert listed(states=[CommandState.CANCELLED]) == [makers.id]
    assert listed(states=[CommandState.PENDING, CommandState.DELIVERED]) == [
        other_maker.id,
        own.id,
    ]


def test_a_job_finds_its_commands(db: Database) -> None:
    mine = send(db, job_id="job-1").command
    send(db)
    found, _ = commands.list_commands(
        unit_of_work(db)(),
        tenant_id=TENANT,
        equipment_id="",
        states=[],
        requested_page_size=50,
        page_token="",
        job_id="job-1",
    )
    assert [(c.id, c.job_id) for c in found] == [(mine.id, "job-1")]


def test_integer_parameters_stay_integers_in_the_store(db: Database) -> None:
    sent = send(db, parameters={"steps": 3, "rpm": 1200.5, "plan": {"passes": [1, 2.5]}})
    stored = get(db, sent.command.id).parameters
    assert stored == {"steps": 3, "rpm": 1200.5, "plan": {"passes": [1, 2.5]}}
    assert type(stored["steps"]) is int
    assert type(stored["plan"]["passes"][0]) is int


def test_an_expired_command_is_not_resent_nor_cancelled(db: Database) -> None:
    sent = send(db, timeout_s=1).command
    now = utcnow() + timedelta(seconds=2)
    commands.expire_overdue(unit_of_work(db)(), now=now)
    assert commands.resend_unconfirmed(unit_of_work(db)(), now=now) == []
    with pytest.raises(FailedPrecondition, match="already expired"):
        commands.cancel_command(
            unit_of_work(db)(), tenant_id=TENANT, command_id=sent.id, cancelled_by=OPERATOR
        )
    assert get(db, sent.id).state is CommandState.EXPIRED
