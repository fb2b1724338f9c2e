"""Finite-capacity scheduling through the REST API, as a planner uses it: the
plant's plan as Gantt data narrowed by line, station and time, each order's ETA
with its explanation, a refresh, the what-if quote of a new order, and the
refusals (unknown or another tenant's plant or order, orders without an ETA,
a plan not made yet, bad quote fields, a viewer asking for a new plan)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.api import Tenant
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for
from tests.support.world import World, onboard

UNKNOWN = "00000000-0000-4000-8000-000000000000"
EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]
# The production service plans a plant within a second or two of an event.
PLANNED_WITHIN_S = 30
ROUTING = [
    {"name": "mill", "capability": "milling", "setup_time_s": 300, "ideal_cycle_time_s": 20},
    {"name": "drill", "capability": "drilling", "ideal_cycle_time_s": 10},
]
# 200,000 units of 20 s milling: longer than the 28 days the plan looks ahead.
TOO_BIG = 200_000


@dataclass
class Floor:
    """A planned plant: two lines, three stations, released orders on its plan."""

    world: World
    viewer: Tenant
    operator: Tenant
    product_id: str
    capabilities: dict[str, list[str]] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)
    too_big: str = ""
    planned: str = ""
    cancelled: str = ""

    @property
    def plant(self) -> str:
        return f"/v1/plants/{self.world.ids['plant_id']}"


def answer(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: httpx.Response, status: int) -> list[str]:
    """The fields a refusal names."""
    assert response.status_code == status, response.text
    return [detail["field"] for detail in response.json()["error"]["details"]]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def key(base_url: str, tenant: Tenant, role: str) -> Tenant:
    issued = answer(tenant.post("/v1/api-keys", {"name": f"planner {role}", "role": role}), 201)
    return Tenant(base_url, issued["secret"], tenant.id)


def created(tenant: Tenant, path: str, body: dict[str, Any]) -> str:
    return str(answer(tenant.post(path, body), 201)["id"])


def schedule(floor: Floor, **query: str) -> dict[str, Any]:
    result: dict[str, Any] = answer(floor.world.tenant.get(f"{floor.plant}/schedule", **query), 200)
    return result


def listed(floor: Floor, order: str, among: str) -> None:
    """Waits until the plant's plan lists the order among its etas or its unscheduled."""

    def probe() -> dict[str, Any] | None:
        current = schedule(floor)
        return current if any(i["work_order_id"] == order for i in current[among]) else None

    wait_for(probe, timeout_s=PLANNED_WITHIN_S, interval_s=0.5, what=f"{order} in {among}")


def a_work_order(floor: Floor, quantity: float, due_in: timedelta, priority: int = 0) -> str:
    return created(
        floor.world.tenant,
        "/v1/work-orders",
        {
            "product_id": floor.product_id,
            "plant_id": floor.world.ids["plant_id"],
            "quantity": quantity,
            "due_time": (datetime.now(UTC) + due_in).isoformat(),
            "priority": priority,
        },
    )


def release(floor: Floor, order_id: str) -> None:
    answer(floor.world.tenant.post(f"/v1/work-orders/{order_id}:release", {}), 200)


@pytest.fixture(scope="module")
def floor(embedded_platform: RunningPlatform) -> Floor:
    base = embedded_platform.base_url
    world = onboard(base, "Planner", machines=1)
    owner = world.tenant
    ids = world.ids
    answer(
        owner.http.patch(f"/v1/stations/{ids['station_id']}", json={"capabilities": ["milling"]}),
        200,
    )
    ids["drill_id"] = created(
        owner,
        "/v1/stations",
        {"line_id": ids["line_id"], "name": "Drill 1", "capabilities": ["drilling"]},
    )
    ids["line_2_id"] = created(owner, "/v1/lines", {"plant_id": ids["plant_id"], "name": "Line 2"})
    ids["mill_2_id"] = created(
        owner,
        "/v1/stations",
        {"line_id": ids["line_2_id"], "name": "Mill 2", "capabilities": ["milling", "drilling"]},
    )
    shifts = [
        {"name": "day", "days_of_week": EVERY_DAY, "start_time": "06:00", "end_time": "18:00"},
        {"name": "night", "days_of_week": EVERY_DAY, "start_time": "18:00", "end_time": "06:00"},
    ]
    answer(owner.http.put(f"/v1/plants/{ids['plant_id']}/calendar", json={"shifts": shifts}), 200)
    product = created(owner, "/v1/products", {"part_number": "HSG-7", "routing": ROUTING})
    floor = Floor(world, key(base, owner, "viewer"), key(base, owner, "operator"), product)
    for station in answer(owner.get("/v1/stations", plant_id=ids["plant_id"]), 200)["items"]:
        floor.capabilities[station["id"]] = station["capabilities"]

    floor.planned = a_work_order(floor, 5, timedelta(days=4))
    floor.cancelled = a_work_order(floor, 5, timedelta(days=4))
    path = f"/v1/work-orders/{floor.cancelled}:cancel"
    answer(owner.post(path, {"reason": "Customer withdrew the order"}), 200)
    # One at a time: each plan that shows an order has taken its release, so no
    # plan is still to come when the tests read the schedule.
    for number, (quantity, priority) in enumerate([(30, 0), (20, 500), (10, 0)]):
        order = a_work_order(floor, quantity, timedelta(days=2 + number), priority)
        release(floor, order)
        listed(floor, order, "etas")
        floor.released.append(order)
    floor.too_big = a_work_order(floor, TOO_BIG, timedelta(days=60))
    release(floor, floor.too_big)
    listed(floor, floor.too_big, "unscheduled")
    return floor


def test_every_released_order_is_planned_on_capable_stations_in_routing_order(
    floor: Floor,
) -> None:
    plan = schedule(floor)
    assert plan["plant_id"] == floor.world.ids["plant_id"]
    assert plan["revision"] >= len(floor.released) + 1
    assert plan["status"] in ("optimal", "feasible"), plan["reason"]
    assert plan["method"]
    assert plan["down_station_ids"] == []
    assert at(plan["compute_time"]) <= datetime.now(UTC)

    for order in floor.released:
        operations = sorted(
            (o for o in plan["operations"] if o["work_order_id"] == order),
            key=lambda o: o["sequence"],
        )
        assert [(o["sequence"], o["name"]) for o in operations] == [(1, "mill"), (2, "drill")]
        for operation, step in zip(operations, ROUTING, strict=True):
            assert step["capability"] in floor.capabilities[operation["station_id"]], operation
            assert at(operation["setup_start_time"]) <= at(operation["start_time"])
            assert at(operation["start_time"]) < at(operation["end_time"])
        assert at(operations[0]["end_time"]) <= at(operations[1]["setup_start_time"])

    by_station: dict[str, list[dict[str, Any]]] = {}
    for operation in plan["operations"]:
        by_station.setdefault(operation["station_id"], []).append(operation)
    for station, operations in by_station.items():
        operations.sort(key=lambda o: at(o["setup_start_time"]))
        for before, after in itertools.pairwise(operations):
            assert at(before["end_time"]) <= at(after["setup_start_time"]), station
    ends = [at(o["end_time"]) for o in plan["operations"]]
    assert at(plan["makespan_end_time"]) == max(ends)

    left_out = {u["work_order_id"]: u["reason"] for u in plan["unscheduled"]}
    assert list(left_out) == [floor.too_big]
    assert "mill" in left_out[floor.too_big]
    assert all(o["work_order_id"] != floor.too_big for o in plan["operations"])


def test_each_eta_is_its_orders_last_operation_end_and_names_the_release(floor: Floor) -> None:
    plan = schedule(floor)
    etas = {e["work_order_id"]: e for e in plan["etas"]}
    assert set(etas) == set(floor.released)
    for order, eta in etas.items():
        last = max(
            (o for o in plan["operations"] if o["work_order_id"] == order),
            key=lambda o: o["sequence"],
        )
        assert at(eta["end_time"]) == at(last["end_time"])
        assert eta["lateness_s"] == 0.0, eta["explanation"]
        releases = [t for t in eta["triggers"] if t["kind"] == "work_order_released"]
        assert releases, eta
        for trigger in releases:
            assert trigger["description"] in eta["explanation"]
        assert answer(floor.viewer.get(f"/v1/work-orders/{order}/eta"), 200) == eta
    # The order released last was new to the plan that took its release.
    newest = etas[floor.released[-1]]
    assert floor.released[-1] in [t["subject_id"] for t in newest["triggers"]]


def test_line_station_and_time_filters_narrow_the_operations(floor: Floor) -> None:
    plan = schedule(floor)
    everything = plan["operations"]
    ids = floor.world.ids

    def narrowed(**query: str) -> list[dict[str, Any]]:
        part = schedule(floor, **query)
        assert part["revision"] == plan["revision"]
        assert part["etas"] == plan["etas"], "filters narrow the operations only"
        operations: list[dict[str, Any]] = part["operations"]
        return operations

    for line in (ids["line_id"], ids["line_2_id"]):
        assert narrowed(line_id=line) == [o for o in everything if o["line_id"] == line]
    for station in (ids["station_id"], ids["drill_id"], ids["mill_2_id"]):
        assert narrowed(station_id=station) == [o for o in everything if o["station_id"] == station]
    in_line_1 = narrowed(line_id=ids["line_id"], station_id=ids["drill_id"])
    assert in_line_1 == [o for o in everything if o["station_id"] == ids["drill_id"]]

    # Around the end of the plan's last operation: that one shows, its order's
    # milling before it does not.
    last = max(everything, key=lambda o: at(o["end_time"]))
    start = at(last["end_time"]) - timedelta(seconds=1)
    end = at(last["end_time"]) + timedelta(hours=1)
    window = narrowed(start_time=start.isoformat(), end_time=end.isoformat())
    assert window == [
        o for o in everything if at(o["end_time"]) > start and at(o["setup_start_time"]) < end
    ]
    assert last in window
    assert len(window) < len(everything)

    backwards = floor.world.tenant.get(
        f"{floor.plant}/schedule", start_time=end.isoformat(), end_time=start.isoformat()
    )
    assert refused(backwards, 422) == ["end_time"]
    not_a_time = floor.world.tenant.get(f"{floor.plant}/schedule", start_time="12")
    assert refused(not_a_time, 422) == ["start_time"]


def test_a_refresh_answers_a_new_plan_and_a_viewer_may_not_ask_for_one(floor: Floor) -> None:
    before = schedule(floor)
    refusal = floor.viewer.http.post(f"{floor.plant}/schedule:refresh")
    assert refusal.status_code == 403, refusal.text
    assert refusal.json()["error"]["code"] == "permission_denied"
    assert (
        answer(floor.viewer.get(f"{floor.plant}/schedule"), 200)["revision"] == before["revision"]
    )

    refreshed = answer(floor.operator.http.post(f"{floor.plant}/schedule:refresh"), 200)
    assert refreshed["revision"] > before["revision"]
    assert "requested" in [t["kind"] for t in refreshed["triggers"]]
    assert {e["work_order_id"] for e in refreshed["etas"]} == set(floor.released)
    assert schedule(floor)["revision"] >= refreshed["revision"]


def test_a_quote_says_when_a_new_order_would_be_done_and_changes_nothing(floor: Floor) -> None:
    before = schedule(floor)
    asked = datetime.now(UTC)
    body = {
        "product_id": floor.product_id,
        "quantity": 15,
        "due_time": (asked + timedelta(days=5)).isoformat(),
        "priority": 100,
    }
    quote = answer(floor.viewer.post(f"{floor.plant}/schedule:quote", body), 200)
    assert at(quote["end_time"]) > asked
    assert quote["lateness_s"] == 0.0
    assert quote["status"] in ("optimal", "feasible")
    assert "quote" in quote["explanation"]
    operations = quote["operations"]
    assert [(o["sequence"], o["name"]) for o in operations] == [(1, "mill"), (2, "drill")]
    for operation, step in zip(operations, ROUTING, strict=True):
        assert step["capability"] in floor.capabilities[operation["station_id"]], operation
    assert at(operations[-1]["end_time"]) == at(quote["end_time"])
    assert {e["work_order_id"] for e in quote["delayed"]} <= set(floor.released)

    no_due_time = {"product_id": floor.product_id, "quantity": 15}
    unhurried = answer(floor.viewer.post(f"{floor.plant}/schedule:quote", no_due_time), 200)
    assert (unhurried["lateness_s"], len(unhurried["operations"])) == (0.0, 2)

    after = schedule(floor)
    assert after["revision"] == before["revision"]
    assert after["etas"] == before["etas"]


def test_a_quote_refuses_fields_it_cannot_plan(floor: Floor) -> None:
    path = f"{floor.plant}/schedule:quote"
    good = {"product_id": floor.product_id, "quantity": 10}
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    cases = [
        ({**good, "quantity": 0}, "quantity"),
        ({**good, "quantity": -5}, "quantity"),
        ({**good, "priority": 1001}, "priority"),
        ({**good, "priority": -1}, "priority"),
        ({**good, "due_time": past}, "due_time"),
        ({**good, "product_id": UNKNOWN}, "product_id"),
    ]
    for body, named in cases:
        assert refused(floor.viewer.post(path, body), 422) == [named], body
    unknown_plant = floor.viewer.post(f"/v1/plants/{UNKNOWN}/schedule:quote", good)
    assert unknown_plant.status_code == 404, unknown_plant.text


def test_orders_without_an_eta_say_why(floor: Floor) -> None:
    for order, state in [(floor.planned, "planned"), (floor.cancelled, "cancelled")]:
        response = floor.viewer.get(f"/v1/work-orders/{order}/eta")
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "failed_precondition"
        assert state in error["message"]

    left_out = {u["work_order_id"]: u["reason"] for u in schedule(floor)["unscheduled"]}
    response = floor.viewer.get(f"/v1/work-orders/{floor.too_big}/eta")
    assert response.status_code == 409, response.text
    assert left_out[floor.too_big] in response.json()["error"]["message"]

    unknown = floor.viewer.get(f"/v1/work-orders/{UNKNOWN}/eta")
    assert unknown.status_code == 404, unknown.text


def test_another_tenants_plant_and_orders_are_not_found(
    floor: Floor, embedded_platform: RunningPlatform
) -> None:
    other = onboard(embedded_platform.base_url, "Other", machines=1).tenant
    order = floor.released[0]
    quote = {"product_id": floor.product_id, "quantity": 10}
    for response in [
        other.get(f"{floor.plant}/schedule"),
        other.http.post(f"{floor.plant}/schedule:refresh"),
        other.post(f"{floor.plant}/schedule:quote", quote),
        other.get(f"/v1/work-orders/{order}/eta"),
        floor.viewer.get(f"/v1/plants/{UNKNOWN}/schedule"),
        floor.operator.http.post(f"/v1/plants/{UNKNOWN}/schedule:refresh"),
    ]:
        assert response.status_code == 404, f"{response.request.url}: {response.text}"
        assert response.json()["error"]["code"] == "not_found"


def test_a_plant_has_no_plan_before_its_first_release(embedded_platform: RunningPlatform) -> None:
    world = onboard(embedded_platform.base_url, "Newcomer", machines=1)
    owner, ids = world.tenant, world.ids
    answer(
        owner.http.patch(f"/v1/stations/{ids['station_id']}", json={"capabilities": ["milling"]}),
        200,
    )
    product = created(owner, "/v1/products", {"part_number": "PLATE-1", "routing": [ROUTING[0]]})
    plan = answer(owner.get(f"/v1/plants/{ids['plant_id']}/schedule"), 200)
    assert (plan["revision"], plan["status"], plan["compute_time"]) == (0, None, None)
    assert (plan["operations"], plan["etas"], plan["makespan_end_time"]) == ([], [], None)

    # Asked at once, a fresh order's ETA is not there yet: the scheduler plans a
    # plant at most once a second and takes longer than the answer. Should it
    # win the race anyway, the next order tries again.
    answers = []
    for _ in range(3):
        order = created(
            owner,
            "/v1/work-orders",
            {
                "product_id": product,
                "plant_id": ids["plant_id"],
                "quantity": 5,
                "due_time": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            },
        )
        answer(owner.post(f"/v1/work-orders/{order}:release", {}), 200)
        answers.append(owner.get(f"/v1/work-orders/{order}/eta"))
        if answers[-1].status_code == 409:
            break
    assert [a.status_code for a in answers[:-1]] == [200] * (len(answers) - 1)
    assert answers[-1].status_code == 409, answers[-1].text
    assert "not scheduled yet" in answers[-1].json()["error"]["message"]
