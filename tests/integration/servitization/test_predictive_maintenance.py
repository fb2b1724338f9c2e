"""Serious anomaly episodes open maintenance tickets, once each (both databases)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imcloud.products.v1 import equipment_events_pb2 as pb
from imcloud_core.bus import Record
from imcloud_core.db import Database
from imcloud_core.events import Topic, new_envelope
from imcloud_servitization.domain import services
from imcloud_servitization.events.handlers import anomaly_handler
from imcloud_servitization.module import unit_of_work
from tests.support.databases import migrated_database

EpisodeNews = pb.AnomalyEpisodeOpened | pb.AnomalyEpisodeEscalated | pb.AnomalyEpisodeClosed


@pytest.fixture
def db(empty_database_url: str) -> Iterator[Database]:
    with migrated_database(empty_database_url, "imcloud_servitization") as database:
        yield database


def opened(
    episode_id: str,
    *,
    severity: int,
    kind: int = pb.EPISODE_KIND_ANOMALY,
    news: type[EpisodeNews] = pb.AnomalyEpisodeOpened,
) -> Record:
    event = news(
        episode=pb.AnomalyEpisode(
            id=episode_id,
            equipment_id="machine-1",
            kind=kind,
            severity=severity,
            top_signals=["bearing_vibration", "motor_current"],
        )
    )
    envelope = new_envelope(
        tenant_id="tenant-1", event_type="anomaly_episode.news", payload=event, source="test"
    )
    return Record(Topic.EQUIPMENT_EVENTS, 0, 0, "machine-1", envelope.SerializeToString())


def tickets(db: Database) -> list[services.MaintenanceTicket]:
    found, _ = services.list_maintenance_tickets(
        unit_of_work(db)(),
        tenant_id="tenant-1",
        equipment_id="",
        requested_page_size=100,
        page_token="",
    )
    return found


def test_a_serious_anomaly_opens_one_ticket_however_often_it_is_delivered(db: Database) -> None:
    handle = anomaly_handler(unit_of_work(db))
    handle([opened("m1/anomaly/1-1", severity=pb.EPISODE_SEVERITY_HIGH)])
    handle([opened("m1/anomaly/1-1", severity=pb.EPISODE_SEVERITY_HIGH)])  # redelivered
    handle([opened("m1/anomaly/1-2", severity=pb.EPISODE_SEVERITY_LOW)])  # left to dashboards
    handle(
        [
            opened(
                "m1/data_quality/1-1",
                severity=pb.EPISODE_SEVERITY_HIGH,
                kind=pb.EPISODE_KIND_DATA_QUALITY,
            )
        ]
    )  # the sensor, not the machine
    (ticket,) = tickets(db)
    assert ticket.source_episode_id == "m1/anomaly/1-1"
    assert ticket.priority.value == "high"
    assert "bearing_vibration" in ticket.description


def test_an_episode_that_escalates_gets_a_ticket_whose_priority_follows_it(db: Database) -> None:
    handle = anomaly_handler(unit_of_work(db))
    episode = "m1/anomaly/2-1"
    handle([opened(episode, severity=pb.EPISODE_SEVERITY_LOW)])
    assert tickets(db) == []  # low: the dashboards' business
    handle([opened(episode, severity=pb.EPISODE_SEVERITY_MEDIUM, news=pb.AnomalyEpisodeEscalated)])
    (ticket,) = tickets(db)
    assert (ticket.source_episode_id, ticket.priority.value) == (episode, "medium")
    handle([opened(episode, severity=pb.EPISODE_SEVERITY_HIGH, news=pb.AnomalyEpisodeEscalated)])
    handle([opened(episode, severity=pb.EPISODE_SEVERITY_HIGH, news=pb.AnomalyEpisodeEscalated)])
    (escalated,) = tickets(db)
    assert escalated.id == ticket.id
    assert escalated.priority.value == "high"
    assert escalated.update_time > ticket.update_time
    # A late redelivery of the opening, or the close, never lowers it.
    handle([opened(episode, severity=pb.EPISODE_SEVERITY_MEDIUM)])
    handle([opened(episode, severity=pb.EPISODE_SEVERITY_MEDIUM, news=pb.AnomalyEpisodeClosed)])
    (kept,) = tickets(db)
    assert kept.priority.value == "high"


def test_an_episode_first_reported_serious_at_its_close_still_gets_a_ticket(db: Database) -> None:
    handle = anomaly_handler(unit_of_work(db))
    handle([opened("m1/anomaly/3-1", severity=pb.EPISODE_SEVERITY_LOW)])
    handle(
        [opened("m1/anomaly/3-1", severity=pb.EPISODE_SEVERITY_HIGH, news=pb.AnomalyEpisodeClosed)]
    )
    (ticket,) = tickets(db)
    assert ticket.priority.value == "high"
