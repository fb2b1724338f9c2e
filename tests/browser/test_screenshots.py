"""The README's pictures of the console: its main screens for the owner of a
simulated plant of 100 machines, taken at 1280x800 into docs/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from imcloud_simulator.machines import CncMill
from imcloud_simulator.onboarding import OnboardedPlant
from tests.browser.console import PageOpener, opened

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def a_mill(plant: OnboardedPlant) -> str:
    return next(m.equipment_id for m in plant.machines if m.machine.kind == CncMill.KIND)


def until_shown(page: Page, screen: str) -> None:
    """Waits for what a screen fetches after rendering: charts with points, tables filled."""
    if screen == "machine":
        chart = page.get_by_test_id("chart-spindle_speed")
        expect(chart).not_to_have_attribute("data-points", "0", timeout=15_000)
        # The charts are what the picture is for; the twin above them is a table.
        chart.evaluate("node => node.closest('section').scrollIntoView()")
    elif screen == "fleet":
        expect(page.get_by_test_id("fleet-machines").locator("tbody tr").nth(99)).to_be_attached()
    elif screen == "production":
        # The OEE of 100 stations takes a while on a small machine.
        expect(page.get_by_test_id("oee-table")).to_be_visible(timeout=30_000)
    elif screen == "service":
        expect(page.get_by_test_id("tickets")).to_be_visible(timeout=15_000)
    # Live views stay open, so the network never falls idle: a moment for the rest.
    page.wait_for_timeout(1500)


@pytest.mark.parametrize("screen", ["fleet", "machine", "production", "service", "admin"])
def test_screenshot(screen: str, open_page: PageOpener, simulated_plant: OnboardedPlant) -> None:
    path = f"/machines/{a_mill(simulated_plant)}" if screen == "machine" else f"/{screen}"
    page = opened(open_page(simulated_plant.api_key), path)
    until_shown(page, screen)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{screen}.png")
