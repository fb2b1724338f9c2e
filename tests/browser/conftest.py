"""Fixtures of the console's browser tests: one embedded platform for the browser tests,
a tenant with an API key per role and a mill streaming through the device SDK, a
simulated plant of 100 machines, a month of history for one machine, and pages
of Debian's chromium whose every console error, page error, CSP violation or
failed request fails the test (``watch.expect`` names the ones a test wants)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from imcloud_device import DeviceClient
from imcloud_simulator.fleet import Fleet
from imcloud_simulator.machines import CncMill
from imcloud_simulator.onboarding import OnboardedPlant, PlatformApi, onboard_plant
from imcloud_simulator.production import onboard_production
from imcloud_simulator.runner import FleetRunner
from tests.browser.console import (
    CHROMIUM,
    MONTH_SIGNALS,
    PLANT_MACHINES,
    PLANT_RATE_HZ,
    REPORT_CSP_VIOLATIONS,
    VIEWPORT,
    Acme,
    BrowserWatch,
    PageOpener,
    SimulatedMachine,
    sign_in,
)
from tests.support.platform import RAISED_RATE_LIMITS, RunningPlatform, embedded
from tests.support.waiting import wait_for
from tests.support.world import onboard

MONTH_DAYS = 30
# A point every ten minutes: the 30-day chart reads hourly means of the minute rollups.
MONTH_STEP_MS = 600_000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A test that passed fails if its pages reported a problem meanwhile."""
    result = yield
    watch = getattr(item, "funcargs", {}).get("watch")
    if isinstance(watch, BrowserWatch):
        watch.assert_clean()
    return result


@pytest.fixture(scope="package")
def console_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with embedded(
        tmp_path_factory.mktemp("console"),
        # On two cores busy with other work, starting every service takes a while.
        timeout_s=120,
        **RAISED_RATE_LIMITS,
        # Each test signs in, and sign-ins count against the limit of anonymous calls.
        IMCLOUD_GATEWAY__ANONYMOUS_RATE_PER_S="1000",
        IMCLOUD_GATEWAY__ANONYMOUS_BURST="1000",
        # The month of history is sent now, with its old timestamps.
        IMCLOUD_GATEWAY__MAX_AGE_S=str((MONTH_DAYS + 1) * 86_400),
    ) as platform:
        yield platform


@pytest.fixture(scope="package")
def acme(console_platform: RunningPlatform) -> Acme:
    world = onboard(console_platform.base_url, "Acme", machines=2)
    keys = {"owner": world.tenant.key}
    for role in ("viewer", "operator", "admin"):
        issued = world.tenant.post("/v1/api-keys", {"name": f"{role} key", "role": role})
        assert issued.status_code == 201, issued.text
        keys[role] = issued.json()["secret"]
    return Acme(world=world, keys=keys)


@pytest.fixture(scope="package")
def simulated_mill(console_platform: RunningPlatform, acme: Acme) -> Iterator[SimulatedMachine]:
    """Acme's first machine, connected and streaming."""
    machine = SimulatedMachine(
        console_platform.device_link, acme.world.device_secrets[acme.machine]
    ).start()
    try:
        wait_for(
            lambda: acme.world.tenant.get(f"/v1/equipment/{acme.machine}/twin").json()["connected"],
            timeout_s=30,
            interval_s=0.2,
            what="the simulated mill connected",
        )
        yield machine
    finally:
        machine.stop()


# Tickets for the plant's first machines, so the service screen has some to show.
MAINTENANCE = ("Check the ram's hydraulic seals", "Replace the guard's door switch")


@pytest.fixture(scope="package")
def simulated_plant(console_platform: RunningPlatform) -> Iterator[OnboardedPlant]:
    """A tenant of its own with 100 simulated machines on three lines, set up for
    production, streaming from this process (the simulator's FleetRunner)."""
    base_url = console_platform.base_url
    fleet = Fleet(PLANT_MACHINES, seed=15, rate_hz=PLANT_RATE_HZ)
    plant = onboard_plant(base_url, fleet, run_id="browser", tenant_name="Simulated plant")
    api = PlatformApi(base_url, plant.api_key)
    try:
        onboard_production(
            api, fleet, plant, run_id="browser", now=datetime.now(UTC), quantity=30.0
        )
        for machine, title in zip(plant.machines, MAINTENANCE, strict=False):
            api.post(
                "/v1/maintenance-tickets", {"equipment_id": machine.equipment_id, "title": title}
            )
    finally:
        api.close()
    runner = FleetRunner(fleet, plant, device_link=console_platform.device_link)
    stop = threading.Event()
    streaming = threading.Thread(
        target=runner.run, args=(stop,), kwargs={"close_timeout_s": 0.0}, daemon=True
    )
    streaming.start()
    try:
        yield plant
    finally:
        stop.set()
        streaming.join(15)


@pytest.fixture(scope="package")
def month_of_data(console_platform: RunningPlatform, acme: Acme) -> str:
    """A machine of Acme's with ten signals and a point a minute for each over the
    last 30 days, sent with their old timestamps through the device SDK (so the
    30-day chart reads the minute rollups); its equipment id."""
    tenant = acme.world.tenant
    model = tenant.post(
        "/v1/equipment-models",
        {
            "name": "VMC-850 with a month of data",
            "manufacturer": CncMill.KIND.manufacturer,
            "signals": [s.body() for s in MONTH_SIGNALS],
        },
    )
    assert model.status_code == 201, model.text
    machine = tenant.post(
        "/v1/equipment",
        {
            "equipment_model_id": model.json()["id"],
            "serial_number": "VMC-MONTH",
            "name": "Mill with a month of data",
            "station_id": acme.world.ids["station_id"],
        },
    )
    assert machine.status_code == 201, machine.text
    equipment_id = str(machine.json()["id"])
    credential = tenant.post(f"/v1/equipment/{equipment_id}/credentials", {})
    assert credential.status_code == 201, credential.text
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    times = np.arange(now_ms - MONTH_DAYS * 86_400_000, now_ms, MONTH_STEP_MS, dtype=np.int64)
    day_phase = np.sin(2 * np.pi * (times % 86_400_000) / 86_400_000)
    rng = np.random.default_rng(15)
    with DeviceClient(
        console_platform.device_link, credential.json()["secret"], max_batch_points=50_000
    ) as client:
        for signal in MONTH_SIGNALS:
            assert signal.max_value is not None
            middle, swing = signal.max_value / 2, signal.max_value / 4
            values = middle + swing * day_phase + rng.normal(0, swing / 10, times.size)
            client.record_many(signal.name, times.tolist(), np.round(values, 2).tolist())
        assert client.flush(timeout_s=120), "the month of data was not delivered"
        refused = client.stats().points_refused
        assert refused == 0, f"{refused} points of the month were refused"

    def stored() -> bool:
        answer = tenant.get(
            f"/v1/equipment/{equipment_id}/telemetry/aggregates",
            start=datetime.fromtimestamp(times[0] / 1000, UTC).isoformat(),
            end=datetime.now(UTC).isoformat(),
            bucket_s=MONTH_DAYS * 86_400,
            signal=[s.name for s in MONTH_SIGNALS],
        ).json()
        counts = [sum(signal["count"]) for signal in answer["signals"]]
        return counts == [times.size] * len(MONTH_SIGNALS)

    wait_for(stored, timeout_s=120, interval_s=0.5, what="the month of data stored")
    return equipment_id


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def watch() -> BrowserWatch:
    return BrowserWatch()


@pytest.fixture
def open_page(
    browser: Browser, watch: BrowserWatch, console_platform: RunningPlatform
) -> Iterator[PageOpener]:
    """Opens a watched page in a browser context of its own, signed in with the
    API key given (None: not signed in)."""
    base_url = console_platform.base_url
    contexts = []

    def opened(api_key: str | None) -> Page:
        context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
        contexts.append(context)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        if api_key is not None:
            sign_in(context, base_url, api_key)
        return watch.attach(context.new_page())

    yield opened
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_page: PageOpener) -> Page:
    """A watched page, not signed in."""
    return open_page(None)


@pytest.fixture
def page_as(open_page: PageOpener, acme: Acme) -> Callable[[str], Page]:
    """A watched page signed in with Acme's key of the role given."""
    return lambda role: open_page(acme.keys[role])
