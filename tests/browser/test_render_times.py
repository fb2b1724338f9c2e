"""How fast the console draws, measured in the browser (not asserted: timings on a
shared machine are no test): the first screen with 100 simulated machines, and a
30-day chart of ten signals. The figures go to tests/bench/results/console.md,
which the README quotes."""

from __future__ import annotations

import os
import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from imcloud_simulator.onboarding import OnboardedPlant
from tests.browser.console import MONTH_SIGNALS, PLANT_RATE_HZ, Acme, PageOpener, opened

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "console.md"
RUNS = 3
# performance.now() counts from the navigation's start.
FLEET_FILLED = """(rows) => {
  const table = document.querySelector('[data-testid="fleet-machines"]');
  const filled = table && table.querySelectorAll("tr:has(a[href^='/machines/'])").length >= rows;
  return filled && performance.now();
}"""
# Set before the click: the charts shown now, and the time of the click.
BEFORE_THE_CLICK = """() => {
  window.chartsBefore = new Set(document.querySelectorAll('[data-testid^="chart-"]'));
  document.addEventListener("click", () => { window.clickedAt = performance.now(); },
                            { capture: true, once: true });
}"""
ALL_CHARTS_REDRAWN = """(count) => {
  const charts = [...document.querySelectorAll('[data-testid^="chart-"]')];
  const drawn = charts.length === count && charts.every(
    (chart) => !window.chartsBefore.has(chart) && Number(chart.dataset.points) > 0);
  return drawn && performance.now() - window.clickedAt;
}"""


def fleet_render_ms(page: Page, machines: int) -> float:
    page.goto("/fleet", wait_until="commit")
    return float(
        page.wait_for_function(
            FLEET_FILLED, arg=machines, polling="raf", timeout=60_000
        ).json_value()
    )


def month_chart_ms(page: Page, equipment_id: str, signals: int) -> float:
    opened(page, f"/machines/{equipment_id}")
    expect(page.locator('[data-testid^="chart-"]')).to_have_count(signals, timeout=30_000)
    page.evaluate(BEFORE_THE_CLICK)
    page.get_by_role("button", name="30 d").click()
    drawn = page.wait_for_function(ALL_CHARTS_REDRAWN, arg=signals, polling="raf", timeout=60_000)
    return float(drawn.json_value())


def machine_description() -> str:
    model = "unknown processor"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def test_render_times(
    open_page: PageOpener,
    browser: Browser,
    simulated_plant: OnboardedPlant,
    acme: Acme,
    month_of_data: str,
) -> None:
    machines = len(simulated_plant.machines)
    load_before = os.getloadavg()[0]
    fleet_page = open_page(simulated_plant.api_key)
    fleet = [fleet_render_ms(fleet_page, machines) for _ in range(RUNS)]
    chart_page = open_page(acme.keys["viewer"])
    month = [month_chart_ms(chart_page, month_of_data, len(MONTH_SIGNALS)) for _ in range(RUNS)]
    load_after = os.getloadavg()[0]
    rows = [
        (
            f"fleet, first screen with {machines} simulated machines streaming at "
            f"{PLANT_RATE_HZ:g} Hz "
            "(navigation start -> every machine row in the table)",
            fleet,
        ),
        (
            f"machine, 30-day charts of {len(MONTH_SIGNALS)} signals "
            "(click on 30 d -> every chart drawn)",
            month,
        ),
    ]
    table = "\n".join(
        f"| {what} | {statistics.median(ms):.0f} | {', '.join(f'{m:.0f}' for m in ms)} |"
        for what, ms in rows
    )
    report = f"""# Console render times ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)

Written by the browser tests (tests/browser/test_render_times.py) in headless Chromium
{browser.version} at 1280x800, against the embedded platform, on this machine
({machine_description()}; load average over 1 min {load_before:.1f} before,
{load_after:.1f} after: other work shares it).
Targets (issue 15): each under 1 s. Measured with `performance.now()` in the page; not asserted.
The month: a point every 10 minutes for each signal over 30 days, sent with their old timestamps
through the device SDK; the chart reads hourly means computed from the minute rollups.

| what | median (ms) | runs (ms) |
|---|---:|---|
{table}
"""
    RESULTS.write_text(report)
    print(report)
