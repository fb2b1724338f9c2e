"""Maintenance planned around production, through the public API only: a mill's
anomaly opens a ticket; the window production suggests for it overlaps no
running operation and ends before the predicted failure; booking it reserves
the mill in the plant's schedule, which moves the operations planned there;
resolving early removes the booking and resets the machine's anomaly model.
On Kafka and PostgreSQL every change of the ticket is published on
imcloud.maintenance.v1."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from imcloud.servitization.v1 import events_pb2, maintenance_pb2
from imcloud_core.bus.kafka import KafkaBus
from imcloud_core.events import Topic, parse_envelope
from tests.e2e.test_episode_news import SIGNALS, correlated_rows, send
from tests.integration.bus.test_bus_contract import Collector
from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for

# Hours of work per order at the mill: the first runs, the rest wait for it. All of
# it takes longer than a critical ticket's day, so no window is free of production.
HOURS = [2, 10, 10, 10]


def created(response: Any) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def overlaps(operation: dict[str, Any], start: datetime, end: datetime) -> bool:
    return at(operation["setup_start_time"]) < end and start < at(operation["end_time"])


class Works:
    """A plant with one mill, its machine streaming telemetry, and work for days."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.tenant: Tenant = sign_up(base_url, f"Maintenance Works {uuid.uuid4().hex[:6]}")
        post = self.tenant.post
        self.plant_id = created(post("/v1/plants", {"name": "Works", "time_zone": "UTC"}))
        line_id = created(post("/v1/lines", {"plant_id": self.plant_id, "name": "Line A"}))
        self.mill = created(
            post(
                "/v1/stations",
                {"line_id": line_id, "name": "Mill 1", "capabilities": ["milling"]},
            )
        )
        model_id = created(
            post(
                "/v1/equipment-models",
                {"name": "Mill", "signals": [{"name": signal} for signal in SIGNALS]},
            )
        )
        self.machine = created(
            post(
                "/v1/equipment",
                {"equipment_model_id": model_id, "serial_number": "M-1", "station_id": self.mill},
            )
        )
        credential = post(f"/v1/equipment/{self.machine}/credentials", {})
        assert credential.status_code == 201, credential.text
        self.secret = credential.json()["secret"]
        self.product_id = created(
            post(
                "/v1/products",
                {
                    "part_number": "SHAFT",
                    "routing": [
                        {
                            "name": "mill",
                            "capability": "milling",
                            "setup_time_s": 60,
                            "ideal_cycle_time_s": 60,
                        }
                    ],
                },
            )
        )

    def release(self, hours: int, *, start: bool) -> str:
        order_id = created(
            self.tenant.post(
                "/v1/work-orders",
                {
                    "product_id": self.product_id,
                    "plant_id": self.plant_id,
                    "quantity": hours * 60,
                    "due_time": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
                },
            )
        )
        released = self.tenant.post(f"/v1/work-orders/{order_id}:release", {})
        assert released.status_code == 200, released.text
        if start:
            started = self.tenant.post(
                f"/v1/work-orders/{order_id}/operations/1:start", {"station_id": self.mill}
            )
            assert started.status_code == 200, started.text
        return order_id

    def schedule(self) -> dict[str, Any]:
        response = self.tenant.get(f"/v1/plants/{self.plant_id}/schedule")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def anomaly(self) -> None:
        """A mill whose vibration steps up and keeps growing after a normal stretch."""
        rows = 1250
        stamps, values = correlated_rows(int(time.time() * 1000) - 1000 * (rows + 60), rows)
        values[1100:, 3] += np.linspace(3, 80, rows - 1100)
        send(
            self.base_url,
            self.secret,
            stamps,
            values,
            range(rows),
            rows_per_batch=50,
            first_sequence=0,
        )


@pytest.fixture(params=["embedded", "distributed"])
def platform(request: pytest.FixtureRequest) -> RunningPlatform:
    platform: RunningPlatform = request.getfixturevalue(f"{request.param}_platform")
    return platform


def test_an_anomalys_window_avoids_running_work_and_booking_it_moves_the_plan(
    platform: RunningPlatform,
) -> None:
    works = Works(platform.base_url)
    collector = Collector()
    bus = KafkaBus(platform.kafka_settings()) if "servitization" in platform.processes else None
    if bus is not None:
        bus.subscribe(
            group=f"test-{uuid.uuid4().hex}", topics=[Topic.MAINTENANCE], handler=collector
        )
    try:
        _booked_and_resolved(works)
        if bus is not None:
            _published(collector)
    finally:
        if bus is not None:
            bus.close()


def _booked_and_resolved(works: Works) -> None:
    orders = [works.release(hours, start=index == 0) for index, hours in enumerate(HOURS)]

    def planned() -> dict[str, Any] | None:
        current = works.schedule()
        return (
            current if {o["work_order_id"] for o in current["operations"]} == set(orders) else None
        )

    wait_for(planned, timeout_s=60, interval_s=0.5, what="every order planned at the mill")

    works.anomaly()

    def ticket() -> dict[str, Any] | None:
        listed = works.tenant.get("/v1/maintenance-tickets", equipment_id=works.machine)
        items = [t for t in listed.json()["items"] if t["priority"] == "high"]
        return items[0] if items else None

    # The episode grows to high while the data lasts; its ticket follows it there.
    opened = wait_for(ticket, timeout_s=60, interval_s=1, what="a ticket from the anomaly")
    assert opened["source_episode_id"]
    path = f"/v1/maintenance-tickets/{opened['id']}"
    # The planner reads it as urgent: the failure is expected within the day.
    raised = works.tenant.http.patch(path, json={"priority": "critical", "assignee": "Carla"})
    assert raised.status_code == 200, raised.text
    assert (raised.json()["priority"], raised.json()["assignee"]) == ("critical", "Carla")

    before = works.schedule()
    asked = datetime.now(UTC)
    suggested = works.tenant.get(f"{path}/suggested-windows", duration="PT2H", count=3)
    assert suggested.status_code == 200, suggested.text
    body = suggested.json()
    assert body["station_id"] == works.mill
    not_after = at(body["not_after"])
    assert asked + timedelta(hours=23) < not_after <= datetime.now(UTC) + timedelta(hours=24)
    windows = body["windows"]
    assert windows, body
    in_seconds = works.tenant.get(f"{path}/suggested-windows", duration="7200", count=3)
    assert in_seconds.status_code == 200, in_seconds.text
    assert len(in_seconds.json()["windows"]) == len(windows)
    running = [o for o in before["operations"] if o["started"]]
    assert [o["work_order_id"] for o in running] == [orders[0]]
    for window in windows:
        start, end = at(window["start_time"]), at(window["end_time"])
        assert end - start == timedelta(hours=2)
        assert end <= not_after
        assert not overlaps(running[0], start, end), window
    best = windows[0]
    # The mill works for days: even the best window displaces work, and says whose.
    assert best["displaced_operation_s"] > 0
    assert best["delayed_work_orders"], best
    assert "displaces" in best["explanation"]
    assert [w["displaced_operation_s"] for w in windows] == sorted(
        w["displaced_operation_s"] for w in windows
    )

    start, end = at(best["start_time"]), at(best["end_time"])
    in_the_way = {
        o["work_order_id"]
        for o in before["operations"]
        if o["station_id"] == works.mill and overlaps(o, start, end)
    }
    assert in_the_way
    booked = works.tenant.post(
        f"{path}:book", {"start_time": best["start_time"], "end_time": best["end_time"]}
    )
    assert booked.status_code == 200, booked.text
    assert booked.json()["state"] == "scheduled"
    booking = booked.json()["booking"]
    assert (booking["station_id"], booking["plant_id"]) == (works.mill, works.plant_id)
    downtimes = works.tenant.get("/v1/planned-downtimes", plant_id=works.plant_id).json()["items"]
    (downtime,) = [d for d in downtimes if d["id"] == booking["planned_downtime_id"]]
    assert opened["id"] in downtime["reason"]
    again = works.tenant.post(
        f"{path}:book", {"start_time": best["start_time"], "end_time": best["end_time"]}
    )
    assert again.status_code == 409, again.text
    assert "from scheduled to scheduled" in again.json()["error"]["message"]

    def replanned() -> dict[str, Any] | None:
        current = works.schedule()
        return (
            current
            if current["revision"] > before["revision"]
            and any(t["kind"] == "planned_downtime_changed" for t in current["triggers"])
            else None
        )

    after = wait_for(replanned, timeout_s=60, interval_s=0.5, what="the plan around the window")
    at_mill = [o for o in after["operations"] if o["station_id"] == works.mill]
    assert not [o for o in at_mill if overlaps(o, start, end)], "the window is kept free"
    moved = {
        o["work_order_id"]
        for o in at_mill
        if o["work_order_id"] in in_the_way and at(o["setup_start_time"]) >= end
    }
    assert moved, "the operations planned in the window moved after it"
    (still_running,) = [o for o in after["operations"] if o["started"]]
    assert still_running["work_order_id"] == orders[0]

    # Worked on and resolved before the window began: the booking is removed, and the
    # machine's anomaly model learns afresh (its open episode closed).
    assert works.tenant.post(f"{path}:transition", {"to": "in_progress"}).status_code == 200
    noted = works.tenant.post(f"{path}/notes", {"text": "Bearing replaced"})
    assert noted.status_code == 201, noted.text
    resolved = works.tenant.post(
        f"{path}:transition", {"to": "resolved", "reset_anomaly_model": True}
    )
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["state"], resolved.json()["booking"]) == ("resolved", None)
    downtimes = works.tenant.get("/v1/planned-downtimes", plant_id=works.plant_id).json()["items"]
    assert booking["planned_downtime_id"] not in {d["id"] for d in downtimes}
    episodes = works.tenant.get(f"/v1/equipment/{works.machine}/anomaly-episodes").json()["items"]
    assert all(e["closed"] for e in episodes), episodes
    illegal = works.tenant.post(f"{path}:transition", {"to": "open"})
    assert illegal.status_code == 409, illegal.text
    assert "from resolved to open" in illegal.json()["error"]["message"]

    detail = works.tenant.get(path).json()
    assert [(n["text"], n["author"] != "") for n in detail["notes"]] == [("Bearing replaced", True)]
    history = works.tenant.get(f"{path}/history").json()["items"]
    by_platform = [c for c in history if c["actor"] == "platform"]
    assert by_platform[0]["field"] == "opened"
    assert {c["field"] for c in by_platform[1:]} <= {"priority"}  # the episode's escalations
    assert [(c["field"], c["from_value"], c["to_value"]) for c in history[len(by_platform) :]] == [
        ("assignee", "", "Carla"),
        ("priority", "high", "critical"),
        ("state", "open", "scheduled"),
        ("state", "scheduled", "in_progress"),
        ("note", "", ""),
        ("state", "in_progress", "resolved"),
    ]
    resolved_list = works.tenant.get("/v1/maintenance-tickets", state=["resolved"]).json()
    assert [t["id"] for t in resolved_list["items"]] == [opened["id"]]
    assert works.tenant.get("/v1/maintenance-tickets", state=["open"]).json()["items"] == []


def _published(collector: Collector) -> None:
    wanted = [
        "maintenance_ticket.opened",
        "maintenance_ticket.updated",
        "maintenance_ticket.booked",
        "maintenance_ticket.transitioned",
        "maintenance_ticket.note_added",
    ]

    def seen() -> set[str] | None:
        types = {parse_envelope(value).type for value in collector.values()}
        return types if set(wanted) <= types else None

    wait_for(seen, timeout_s=30, interval_s=0.5, what="the ticket's changes on the topic")
    for value in collector.values():
        envelope = parse_envelope(value)
        if envelope.type == "maintenance_ticket.booked":
            changed = maintenance_pb2.MaintenanceTicketChanged()
            assert envelope.payload.Unpack(changed)
            assert changed.ticket.state == maintenance_pb2.TICKET_STATE_SCHEDULED
            assert changed.ticket.booking.planned_downtime_id
        if envelope.type == "maintenance_ticket.opened":
            assert envelope.payload.Unpack(events_pb2.MaintenanceTicketOpened())
