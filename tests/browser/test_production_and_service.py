"""The production and service screens: a plant's OEE and state timelines, work orders
released and cancelled from their rows and planned on the Gantt chart, maintenance
tickets booked into a suggested window and resolved, and a customized order's
stages and genealogy."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import expect

from imcloud_simulator.onboarding import OnboardedPlant
from tests.browser.console import PageOpener, opened
from tests.support.platform import RunningPlatform
from tests.support.world import created, onboard, order_customized


def test_the_plant_shows_oee_per_station_line_and_plant_and_each_station_s_states(
    open_page: PageOpener, simulated_plant: OnboardedPlant, console_platform: RunningPlatform
) -> None:
    def listed(path: str, **params: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{console_platform.base_url}{path}",
            params={"page_size": "500", **params},
            headers={"authorization": f"Bearer {simulated_plant.api_key}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    plant = listed("/v1/plants")[0]
    lines = listed("/v1/lines", plant_id=plant["id"])
    stations = listed("/v1/stations", plant_id=plant["id"])
    page = opened(open_page(simulated_plant.api_key), "/production")
    table = page.get_by_test_id("oee-table")
    # The OEE of a hundred stations takes a moment on a busy machine, and a shift that has
    # just begun shows its OEE after its first whole minute.
    expect(table.locator(".scope-plant")).to_have_text(plant["name"], timeout=90_000)
    expect(table.locator(".scope-line")).to_have_count(len(lines))
    expect(table.locator(".scope-station")).to_have_count(len(stations))

    # The machines stream, so a station has a state, named with its times.
    timeline = page.get_by_test_id("state-timeline")
    expect(timeline.locator("rect title").first).to_contain_text(
        re.compile(r"^(Running|Idle|Setup|Down|Planned stop|No data) \d\d:\d\d\u2013"),
        timeout=30_000,
    )
    # A hundred stations are more than one view asks for at once: a line at a time.
    expect(timeline).to_contain_text(f"of {len(stations)} stations: choose a line")

    def at(line: dict[str, Any]) -> list[dict[str, Any]]:
        return [s for s in stations if s["line_id"] == line["id"]]

    line = min(lines, key=lambda line: len(at(line)))
    page.get_by_label("Line", exact=True).select_option(line["id"])
    expect(timeline.locator("svg.timeline")).to_have_count(len(at(line)), timeout=15_000)
    for station in at(line):
        expect(timeline).to_contain_text(f"{line['name']} · {station['name']}")


def test_an_operator_releases_a_work_order_sees_it_planned_and_cancels_it(
    open_page: PageOpener, console_platform: RunningPlatform
) -> None:
    world = onboard(console_platform.base_url, "Works", machines=1)
    tenant = world.tenant
    station = tenant.http.patch(
        f"/v1/stations/{world.ids['station_id']}", json={"capabilities": ["milling"]}
    )
    assert station.status_code == 200, station.text
    step = {"name": "mill", "capability": "milling", "ideal_cycle_time_s": 30}
    product = tenant.post("/v1/products", {"part_number": "HOUSING-7", "routing": [step]})
    due = datetime.now(UTC) + timedelta(days=1)
    order = tenant.post(
        "/v1/work-orders",
        {
            "product_id": created(product.json()),
            "plant_id": world.ids["plant_id"],
            "quantity": 10,
            "due_time": due.isoformat(),
        },
    )
    assert order.status_code == 201, order.text
    order_id = created(order.json())
    viewer = tenant.post("/v1/api-keys", {"name": "viewer", "role": "viewer"}).json()["secret"]

    page = opened(open_page(viewer), "/production")
    row = page.get_by_test_id("work-orders").locator(f"tr[data-work-order-id='{order_id}']")
    expect(row).to_have_attribute("data-state", "planned")
    expect(row.get_by_role("button")).to_have_count(0)

    page = opened(open_page(tenant.key), "/production")
    row = page.get_by_test_id("work-orders").locator(f"tr[data-work-order-id='{order_id}']")
    row.get_by_role("button", name="Release").click()
    row.get_by_role("button", name="Confirm release").click()
    expect(row).to_have_attribute("data-state", "released", timeout=10_000)
    bar = page.get_by_test_id("schedule-gantt").locator("svg.op[aria-label*='HOUSING-7']")
    expect(bar).to_have_count(1, timeout=20_000)
    expect(row).to_contain_text("on time")

    row.get_by_role("button", name="Cancel…").click()
    row.get_by_label("Why cancel?").fill("The customer withdrew")
    row.get_by_role("button", name="Confirm cancel").click()
    # The list shows open orders: the cancelled one leaves it.
    expect(row).to_have_count(0, timeout=10_000)
    cancelled = tenant.get(f"/v1/work-orders/{order_id}").json()
    assert (cancelled["state"], cancelled["cancel_reason"]) == (
        "cancelled",
        "The customer withdrew",
    )


def test_an_operator_books_a_suggested_window_for_a_ticket_and_resolves_it(
    open_page: PageOpener, console_platform: RunningPlatform
) -> None:
    world = onboard(console_platform.base_url, "Service", machines=1)
    ticket_id = world.ids["ticket_id"]
    page = opened(open_page(world.tenant.key), "/service")
    row = page.get_by_test_id("tickets").locator(f"tr[data-ticket-id='{ticket_id}']")
    expect(row).to_have_attribute("data-state", "open")
    expect(row.get_by_role("link", name="Mill 0")).to_have_attribute(
        "href", f"/machines/{world.ids['equipment_id']}"
    )

    row.get_by_role("button", name="Find a window…").click()
    row.get_by_label("Hours of work").fill("1")
    row.get_by_role("button", name="Suggest windows").click()
    windows = page.get_by_test_id("suggested-windows")
    windows.get_by_role("button", name="Book").first.click()
    windows.get_by_role("button", name="Confirm booking").click()
    expect(row).to_have_attribute("data-state", "scheduled", timeout=10_000)
    expect(row).to_contain_text("at Station 10")
    booking = world.tenant.get(f"/v1/maintenance-tickets/{ticket_id}").json()["booking"]
    assert booking["station_id"] == world.ids["station_id"]

    row.get_by_role("button", name="Start work").click()
    row.get_by_role("button", name="Confirm: start work").click()
    expect(row).to_have_attribute("data-state", "in_progress", timeout=10_000)
    row.get_by_role("button", name="Resolve").click()
    row.get_by_role("button", name="Confirm: resolve").click()
    expect(row).to_have_count(0, timeout=10_000)
    resolved = world.tenant.get(f"/v1/maintenance-tickets/{ticket_id}").json()
    assert resolved["state"] == "resolved"


def test_a_customized_order_shows_its_stages_and_its_genealogy_on_demand(
    open_page: PageOpener, console_platform: RunningPlatform
) -> None:
    world = onboard(console_platform.base_url, "Orders", machines=1)
    order_customized(world)
    page = opened(open_page(world.tenant.key), "/service")
    row = page.get_by_test_id("orders").locator(f"tr[data-order-id='{world.ids['order_id']}']")
    expect(row).to_have_attribute("data-state", "scheduled")
    expect(row.locator(".stepper li[aria-current=step]")).to_have_text("Scheduled")
    expect(row.locator(".stepper li.reached")).to_have_count(2)
    expect(page.get_by_test_id("genealogy")).to_have_count(0)

    work_order_id = world.tenant.get(f"/v1/orders/{world.ids['order_id']}").json()["work_order_id"]
    row.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("genealogy")).to_contain_text(f"Work order {work_order_id[:8]}")
    expect(row.get_by_role("button", name="Hide")).to_have_attribute("aria-expanded", "true")
