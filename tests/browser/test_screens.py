"""Every screen of the console for every role, and what a user does on them:
the fleet, a live chart, a command to a machine, the keyboard, and labels."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from imcloud_core.paging import every_page
from tests.browser.console import ROLES, Acme, SimulatedMachine, opened

# The write controls of each screen and the least role that sees them.
WRITE_FORMS = {
    "machine": {"send-command": "operator"},
    "admin": {
        "create-api-key": "admin",
        "issue-device-credential": "admin",
        "create-grant": "admin",
    },
}
# axe-core's rules about names: every control, link and button says what it is.
LABEL_RULES = [
    "label",
    "select-name",
    "button-name",
    "link-name",
    "input-button-name",
    "aria-input-field-name",
    "form-field-multiple-labels",
]


def screens(acme: Acme) -> dict[str, str]:
    """Each screen's name and the path that opens it."""
    return {
        "fleet": "/fleet",
        "machine": f"/machines/{acme.machine}",
        "production": "/production",
        "service": "/service",
        "maker": "/maker",
        "admin": "/admin",
    }


def at_least(role: str, least: str) -> bool:
    return ROLES.index(role) >= ROLES.index(least)


@pytest.mark.parametrize("role", ROLES)
def test_every_screen_opens_for_every_role_with_only_its_controls(
    role: str, page_as: Callable[[str], Page], acme: Acme
) -> None:
    page = page_as(role)
    for screen, path in screens(acme).items():
        opened(page, path)
        expect(page.locator("main h2").first).to_be_visible()
        for testid, least in WRITE_FORMS.get(screen, {}).items():
            expect(page.get_by_test_id(testid), f"{testid} for a {role}").to_have_count(
                1 if at_least(role, least) else 0
            )
        if role == "viewer":
            # Filters are forms too, but change nothing.
            writes = page.locator("main form:not([role=search]):not([data-testid=audit-filter])")
            expect(writes, f"a write control on {screen}").to_have_count(0)


def test_the_fleet_lists_every_machine(page_as: Callable[[str], Page], acme: Acme) -> None:
    def listed(token: str) -> tuple[list[dict[str, Any]], str]:
        page = acme.world.tenant.get("/v1/equipment", page_size=500, page_token=token).json()
        return page["items"], page["next_page_token"]

    machines = every_page(listed)
    page = opened(page_as("viewer"), "/fleet")
    table = page.get_by_test_id("fleet-machines")
    expect(table.locator("a[href^='/machines/']")).to_have_count(len(machines))
    for machine in machines:
        link = table.get_by_role("link", name=machine["name"])
        expect(link).to_have_attribute("href", f"/machines/{machine['id']}")


def test_a_live_chart_receives_points_while_the_machine_streams(
    page_as: Callable[[str], Page], acme: Acme, simulated_mill: SimulatedMachine
) -> None:
    page = opened(page_as("viewer"), f"/machines/{acme.machine}")
    chart = page.get_by_test_id("chart-spindle_speed")
    expect(chart).not_to_have_attribute("data-points", "0", timeout=10_000)
    before = int(chart.get_attribute("data-points") or 0)
    page.wait_for_function(
        "([chart, before]) => Number(chart.dataset.points) > before",
        arg=[chart.element_handle(), before],
        timeout=10_000,
    )


def test_a_command_sent_from_the_machine_screen_succeeds_on_the_machine(
    page_as: Callable[[str], Page], acme: Acme, simulated_mill: SimulatedMachine
) -> None:
    page = opened(page_as("operator"), f"/machines/{acme.machine}")
    form = page.get_by_test_id("send-command")
    form.get_by_label("Command").fill("set_speed")
    form.get_by_label("Parameters").fill('{"rpm": 9000}')
    form.get_by_role("button", name="Send").click()
    row = page.get_by_test_id("machine-commands").locator("tr[data-command-id]").first
    expect(row).to_contain_text("set_speed")
    expect(row).to_have_attribute("data-state", "succeeded", timeout=20_000)
    expect(row).to_contain_text("spindle at 9000 rpm")
    assert simulated_mill.speed_rpm == 9000


FOCUSABLE = (
    "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), "
    "textarea:not([disabled]), [tabindex]:not([tabindex='-1'])"
)


def test_tab_reaches_every_control_in_order_and_enter_follows_a_link(
    page_as: Callable[[str], Page], acme: Acme, simulated_mill: SimulatedMachine
) -> None:
    page = opened(page_as("operator"), f"/machines/{acme.machine}")
    expect(page.get_by_test_id("send-command")).to_be_visible()
    # Numbers every visible control in document order, which Tab must follow.
    count = page.evaluate(
        """(selector) => {
          const controls = [...document.querySelectorAll(selector)]
            .filter((node) => node.checkVisibility());
          controls.forEach((node, i) => { node.dataset.focusOrder = String(i); });
          return controls.length;
        }""",
        FOCUSABLE,
    )
    assert count > 10
    reached = []
    for _ in range(count):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.dataset.focusOrder ?? null"))
    assert reached == [str(i) for i in range(count)]
    names = page.evaluate(
        "[...document.querySelectorAll('[data-focus-order]')].map((n) => n.textContent.trim())"
    )
    opened(page, f"/machines/{acme.machine}")
    for _ in range(names.index("Production") + 1):
        page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Production")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/production$"))


def test_every_control_on_every_screen_has_an_accessible_name(
    page_as: Callable[[str], Page], acme: Acme
) -> None:
    page = page_as("owner")
    axe = Axe()
    for screen, path in screens(acme).items():
        opened(page, path)
        results = axe.run(page, options={"runOnly": {"type": "rule", "values": LABEL_RULES}})
        assert results.violations_count == 0, f"{screen}: {results.generate_report()}"
