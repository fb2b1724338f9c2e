"""Intelligent production through the REST API, as a plant's people drive it:
calendars, products and their routings, state mappings, work orders through
their life with counts an operator reports, and the refusals that name the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.platform import RunningPlatform
from tests.support.world import World, onboard

UNKNOWN = "00000000-0000-4000-8000-000000000000"
EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]


@pytest.fixture
def acme(embedded_platform: RunningPlatform) -> World:
    world = onboard(embedded_platform.base_url, "Acme", machines=1)
    patched = world.tenant.http.patch(
        f"/v1/stations/{world.ids['station_id']}",
        json={"capabilities": ["milling", "drilling"], "ideal_cycle_time_s": 30},
    )
    assert patched.status_code == 200, patched.text
    return world


def answer(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def refused(response: httpx.Response, status: int) -> list[str]:
    """The fields a refusal names."""
    assert response.status_code == status, response.text
    return [detail["field"] for detail in response.json()["error"]["details"]]


def shift(name: str, start: str, end: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "days_of_week": EVERY_DAY, "start_time": start, "end_time": end, **more}


def a_product(world: World, *capabilities: str) -> dict[str, Any]:
    routing = [
        {"name": f"step {n}", "capability": c, "ideal_cycle_time_s": 20}
        for n, c in enumerate(capabilities, 1)
    ]
    return answer(
        world.tenant.post(
            "/v1/products", {"part_number": f"P-{'-'.join(capabilities)}", "routing": routing}
        ),
        201,
    )


def a_work_order(world: World, product: dict[str, Any], quantity: float = 10) -> str:
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    order = answer(
        world.tenant.post(
            "/v1/work-orders",
            {
                "product_id": product["id"],
                "plant_id": world.ids["plant_id"],
                "quantity": quantity,
                "due_time": due,
                "priority": 5,
            },
        ),
        201,
    )
    assert (order["state"], order["operations"], order["first_pass_yield"]) == (
        "planned",
        [],
        None,
    )
    return str(order["id"])


def step(world: World, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return world.tenant.http.post(path, json=body or {})


def test_a_plants_calendar_is_set_read_back_and_refuses_overlapping_shifts(acme: World) -> None:
    path = f"/v1/plants/{acme.ids['plant_id']}/calendar"
    empty = answer(acme.tenant.get(path), 200)
    assert (empty["shifts"], empty["update_time"]) == ([], None)

    calendar = {
        "shifts": [
            shift("early", "06:00", "14:00", breaks=[{"start_time": "09:00", "end_time": "09:30"}]),
            shift("late", "14:00", "22:00"),
            shift("night", "22:00", "06:00"),
        ],
        "holidays": ["2027-12-25"],
        "small_stop_threshold_s": 90,
    }
    stored = answer(acme.tenant.http.put(path, json=calendar), 200)
    assert stored == answer(acme.tenant.get(path), 200)
    assert [s["name"] for s in stored["shifts"]] == ["early", "late", "night"]
    assert stored["shifts"][0]["breaks"] == [{"start_time": "09:00", "end_time": "09:30"}]
    assert (stored["holidays"], stored["small_stop_threshold_s"]) == (["2027-12-25"], 90)
    assert stored["update_time"] is not None

    # The late shift starts before the early one ends.
    overlapping = {"shifts": [shift("early", "06:00", "14:00"), shift("late", "13:00", "21:00")]}
    assert refused(acme.tenant.http.put(path, json=overlapping), 422) == ["shifts[1].start_time"]
    not_a_time = {"shifts": [shift("early", "6 am", "14:00")]}
    assert refused(acme.tenant.http.put(path, json=not_a_time), 422) == ["shifts[0].start_time"]
    assert answer(acme.tenant.get(path), 200) == stored, "a refused calendar changed nothing"

    unknown = acme.tenant.http.put(f"/v1/plants/{UNKNOWN}/calendar", json=calendar)
    assert unknown.status_code == 404, unknown.text


def test_a_plants_shifts_in_a_range_follow_its_calendar(acme: World) -> None:
    plant = acme.ids["plant_id"]
    calendar = {"shifts": [shift("day", "08:00", "16:00")]}
    answer(acme.tenant.http.put(f"/v1/plants/{plant}/calendar", json=calendar), 200)
    # Two whole days in Berlin (UTC+1 in winter): 2026-12-07 and 2026-12-08.
    shifts = answer(
        acme.tenant.get(
            f"/v1/plants/{plant}/shifts",
            start_time="2026-12-06T23:00:00Z",
            end_time="2026-12-08T23:00:00Z",
        ),
        200,
    )["items"]
    assert [(s["date"], s["start_time"], s["planned_busy_time_s"]) for s in shifts] == [
        ("2026-12-07", "2026-12-07T07:00:00Z", 8 * 3600),
        ("2026-12-08", "2026-12-08T07:00:00Z", 8 * 3600),
    ]
    too_long = acme.tenant.get(
        f"/v1/plants/{plant}/shifts",
        start_time="2026-01-01T00:00:00Z",
        end_time="2026-03-01T00:00:00Z",
    )
    assert refused(too_long, 422) == ["end_time"]


def test_planned_downtime_is_booked_listed_and_deleted(acme: World) -> None:
    start = (datetime.now(UTC) + timedelta(days=10)).replace(second=0, microsecond=0)
    booking = {
        "plant_id": acme.ids["plant_id"],
        "station_id": acme.ids["station_id"],
        "kind": "maintenance",
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(hours=3)).isoformat(),
        "reason": "Spindle bearings",
    }
    booked = answer(acme.tenant.post("/v1/planned-downtimes", booking), 201)
    listed = acme.tenant.get("/v1/planned-downtimes", plant_id=acme.ids["plant_id"])
    assert answer(listed, 200)["items"] == [booked]

    off_the_minute = {**booking, "start_time": (start + timedelta(seconds=30)).isoformat()}
    assert refused(acme.tenant.post("/v1/planned-downtimes", off_the_minute), 422) == ["start_time"]
    backwards = {**booking, "end_time": (start - timedelta(hours=1)).isoformat()}
    assert refused(acme.tenant.post("/v1/planned-downtimes", backwards), 422) == ["end_time"]

    deleted = acme.tenant.http.delete(f"/v1/planned-downtimes/{booked['id']}")
    assert deleted.status_code == 204, deleted.text
    left = acme.tenant.get("/v1/planned-downtimes", plant_id=acme.ids["plant_id"])
    assert answer(left, 200)["items"] == []


def test_a_product_needs_stations_that_can_make_it(acme: World) -> None:
    station = answer(acme.tenant.get(f"/v1/stations/{acme.ids['station_id']}"), 200)
    assert (station["capabilities"], station["ideal_cycle_time_s"]) == (["milling", "drilling"], 30)
    product = a_product(acme, "milling", "drilling")
    assert [s["capability"] for s in product["routing"]] == ["milling", "drilling"]
    assert answer(acme.tenant.get(f"/v1/products/{product['id']}"), 200) == product
    assert answer(acme.tenant.get("/v1/products"), 200)["items"] == [product]

    welding = {
        "part_number": "FRAME-1",
        "routing": [{"name": "weld", "capability": "welding", "ideal_cycle_time_s": 60}],
    }
    assert refused(acme.tenant.post("/v1/products", welding), 422) == ["routing[0].capability"]
    no_routing = {"part_number": "FRAME-2", "routing": []}
    assert refused(acme.tenant.post("/v1/products", no_routing), 422) == ["routing"]
    duplicate = {**welding, "part_number": product["part_number"]}
    duplicate["routing"] = [{"name": "mill", "capability": "milling", "ideal_cycle_time_s": 5}]
    assert acme.tenant.post("/v1/products", duplicate).status_code == 409


def test_a_work_order_goes_from_planned_to_completed_and_refuses_illegal_steps(
    acme: World,
) -> None:
    order = f"/v1/work-orders/{a_work_order(acme, a_product(acme, 'milling', 'drilling'))}"
    station = {"station_id": acme.ids["station_id"]}

    released = answer(step(acme, f"{order}:release"), 200)
    assert released["state"] == "released"
    assert [(o["sequence"], o["capability"], o["state"]) for o in released["operations"]] == [
        (1, "milling", "pending"),
        (2, "drilling", "pending"),
    ]
    again = step(acme, f"{order}:release")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "failed_precondition")

    running = answer(step(acme, f"{order}/operations/1:start", station), 200)
    assert (running["state"], running["operations"][0]["station_id"]) == (
        "running",
        acme.ids["station_id"],
    )
    assert running["start_time"] is not None
    milled = {"good_quantity": 10, "scrap_quantity": 0}
    answer(acme.tenant.http.put(f"{order}/operations/1/counts", json=milled), 200)
    answer(step(acme, f"{order}/operations/1:complete"), 200)
    answer(step(acme, f"{order}/operations/2:start", station), 200)
    counted = {"good_quantity": 9, "scrap_quantity": 1}
    answer(acme.tenant.http.put(f"{order}/operations/2/counts", json=counted), 200)
    defect = {"work_order_id": running["id"], "sequence": 2, "defect_code": "burr", "quantity": 1}
    recorded = answer(acme.tenant.post("/v1/quality-records", {**defect, "scrapped": True}), 201)
    assert (recorded["station_id"], recorded["scrapped"]) == (acme.ids["station_id"], True)
    completed = answer(step(acme, f"{order}/operations/2:complete"), 200)
    assert completed["state"] == "completed"
    assert (completed["good_quantity"], completed["scrap_quantity"]) == (9, 1)
    assert completed["first_pass_yield"] == pytest.approx(0.9)
    assert completed["end_time"] is not None
    assert answer(acme.tenant.get(order), 200) == completed

    cancelled_late = step(acme, f"{order}:cancel", {"reason": "too late"})
    assert cancelled_late.status_code == 409, cancelled_late.text
    listed = acme.tenant.get("/v1/work-orders", state=["completed"])
    assert [o["id"] for o in answer(listed, 200)["items"]] == [completed["id"]]
    records = acme.tenant.get("/v1/quality-records", work_order_id=completed["id"])
    assert answer(records, 200)["items"] == [recorded]


def test_a_cancelled_work_order_cannot_start(acme: World) -> None:
    order = f"/v1/work-orders/{a_work_order(acme, a_product(acme, 'milling'))}"
    answer(step(acme, f"{order}:release"), 200)
    cancelled = answer(step(acme, f"{order}:cancel", {"reason": "Customer withdrew"}), 200)
    assert (cancelled["state"], cancelled["cancel_reason"]) == ("cancelled", "Customer withdrew")

    start = step(acme, f"{order}/operations/1:start", {"station_id": acme.ids["station_id"]})
    assert (start.status_code, start.json()["error"]["code"]) == (409, "failed_precondition")
    assert refused(step(acme, f"{order}:cancel", {"reason": ""}), 422) == ["reason"]


def test_operator_counts_never_decrease_and_stop_with_the_order(acme: World) -> None:
    order = f"/v1/work-orders/{a_work_order(acme, a_product(acme, 'milling'))}"
    answer(step(acme, f"{order}:release"), 200)
    answer(step(acme, f"{order}/operations/1:start", {"station_id": acme.ids["station_id"]}), 200)
    counts = f"{order}/operations/1/counts"

    def report(**totals: float) -> httpx.Response:
        return acme.tenant.http.put(counts, json=totals)

    counted = answer(report(good_quantity=5, scrap_quantity=1), 200)
    assert (counted["operations"][0]["good_quantity"], counted["scrap_quantity"]) == (5, 1)
    assert refused(report(good_quantity=4, scrap_quantity=1), 422) == ["good_quantity"]
    assert refused(report(good_quantity=6, scrap_quantity=-1), 422) == ["scrap_quantity"]
    assert refused(acme.tenant.http.put(f"{order}/operations/0/counts", json={}), 422) == [
        "sequence",
        "good_quantity",
        "scrap_quantity",
    ]
    answer(report(good_quantity=6, scrap_quantity=1), 200)

    answer(step(acme, f"{order}/operations/1:complete"), 200)
    late = report(good_quantity=8, scrap_quantity=1)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "failed_precondition")
    assert answer(acme.tenant.get(order), 200)["good_quantity"] == 6


def test_a_state_mapping_names_known_states_of_the_tenants_own_model(
    acme: World, embedded_platform: RunningPlatform
) -> None:
    path = f"/v1/equipment-models/{acme.ids['equipment_model_id']}/state-mapping"
    assert acme.tenant.get(path).status_code == 404, "no mapping yet"
    mapping = {
        "state_signal": "spindle_speed",
        "rules": [
            {"comparison": "greater", "value": 0, "state": "running"},
            {"comparison": "equal", "value": 0, "state": "idle"},
        ],
        "default_state": "down",
        "good": {"signal": "door_open", "kind": "per_cycle"},
        "hold_s": 30,
    }
    stored = answer(acme.tenant.http.put(path, json=mapping), 200)
    assert {k: stored[k] for k in mapping} == mapping
    assert stored["scrap"] is None
    assert answer(acme.tenant.get(path), 200) == stored

    bogus = {**mapping, "rules": [{"comparison": "greater", "value": 0, "state": "spinning"}]}
    assert refused(acme.tenant.http.put(path, json=bogus), 422) == ["rules[0].state"]
    silent = {**mapping, "default_state": "no_data"}
    assert refused(acme.tenant.http.put(path, json=silent), 422) == ["default_state"]
    unknown_signal = {**mapping, "state_signal": "run_state"}
    assert refused(acme.tenant.http.put(path, json=unknown_signal), 422) == ["state_signal"]
    assert answer(acme.tenant.get(path), 200) == stored, "a refused mapping changed nothing"

    other = onboard(embedded_platform.base_url, "Other", machines=1)
    for model in (other.ids["equipment_model_id"], UNKNOWN):
        elsewhere = acme.tenant.http.put(
            f"/v1/equipment-models/{model}/state-mapping", json=mapping
        )
        assert elsewhere.status_code == 404, elsewhere.text
    theirs = other.tenant.get(
        f"/v1/equipment-models/{other.ids['equipment_model_id']}/state-mapping"
    )
    assert theirs.status_code == 404, "the other tenant's model has no mapping"


def test_downtime_and_oee_queries_name_exactly_one_scope(acme: World) -> None:
    now = datetime.now(UTC)
    hour = {"start_time": (now - timedelta(hours=1)).isoformat(), "end_time": now.isoformat()}
    for path in ("/v1/oee", "/v1/downtimes"):
        assert refused(acme.tenant.get(path, **hour), 422) == ["station_id"]
        both = acme.tenant.get(
            path, station_id=acme.ids["station_id"], line_id=acme.ids["line_id"], **hour
        )
        assert refused(both, 422) == ["line_id"]
        backwards = {"start_time": hour["end_time"], "end_time": hour["start_time"]}
        assert refused(acme.tenant.get(path, plant_id=acme.ids["plant_id"], **backwards), 422) == [
            "end_time"
        ]
        as_number = acme.tenant.get(
            path, plant_id=acme.ids["plant_id"], start_time="0", end_time="1"
        )
        assert sorted(refused(as_number, 422)) == ["end_time", "start_time"]

    oee = answer(acme.tenant.get("/v1/oee", line_id=acme.ids["line_id"], **hour), 200)
    assert (oee["total"]["scope"], oee["total"]["scope_id"], oee["parts"]) == (
        "line",
        acme.ids["line_id"],
        [],
    )
    # No calendar: no planned time, so availability has no denominator.
    assert oee["total"]["availability"] is None


def test_a_tenants_downtime_reasons_grow_below_the_built_in_ones(acme: World) -> None:
    built_in = answer(acme.tenant.get("/v1/downtime-reasons"), 200)["items"]
    assert {"breakdown", "no_material"} <= {r["code"] for r in built_in}

    coil = {"code": "no_material.coil", "name": "No coil", "parent_code": "no_material"}
    created = answer(
        acme.tenant.post("/v1/downtime-reasons", {**coil, "category": "external"}), 201
    )
    assert answer(acme.tenant.get("/v1/downtime-reasons"), 200)["items"] == [*built_in, created]

    again = acme.tenant.post("/v1/downtime-reasons", {**coil, "category": "external"})
    assert refused(again, 409) == ["code"]
    orphan = {**coil, "code": "no_coil", "parent_code": "no_such_reason", "category": "external"}
    assert refused(acme.tenant.post("/v1/downtime-reasons", orphan), 422) == ["parent_code"]
    shouting = {**coil, "code": "NO_COIL", "category": "external"}
    assert refused(acme.tenant.post("/v1/downtime-reasons", shouting), 422) == ["code"]
