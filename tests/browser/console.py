"""What the console's browser tests share: Debian's chromium driven by Playwright,
a watch that turns every browser error into a test failure, signing in, and a
simulated machine that streams and answers commands through the device SDK."""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response, expect

from imcloud_device import Command, CommandOutcome, DeviceClient
from imcloud_simulator.machines import CncMill
from tests.support.world import World

# Playwright's own browser builds cannot be downloaded here: infra/browser.sh
# installs Debian's chromium, which Playwright drives over CDP.
CHROMIUM = os.environ.get("IMCLOUD_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}
ROLES = ("viewer", "operator", "admin", "owner")
PLANT_MACHINES = 100
# A reading every 5 s keeps every machine online (and the twins moving) at a load
# the embedded platform carries on two shared cores beside the browser.
PLANT_RATE_HZ = 0.2
# The signals of the machine with a month of history: a mill's ten measurements.
MONTH_SIGNALS = [s for s in CncMill.KIND.signals if s.type == "double"]
# Reported on the page itself, so a violation shows as a console error even where
# the browser would only count it.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""

# Opens a watched page signed in with the API key given (None: not signed in).
PageOpener = Callable[[str | None], Page]


@dataclass
class Acme:
    """A signed-up tenant: its onboarded world and an API key per role."""

    world: World
    keys: dict[str, str]

    @property
    def machine(self) -> str:
        """The machine a SimulatedMachine streams for (its credential is the world's)."""
        return self.world.ids["equipment_id"]


@dataclass
class BrowserWatch:
    """Everything that went wrong in a page: console errors, uncaught exceptions,
    CSP violations, failed requests and error answers, except those a test said
    it expects (``expect``)."""

    problems: list[str] = field(default_factory=list)
    expected: list[tuple[int, str]] = field(default_factory=list)

    def attach(self, page: Page) -> Page:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._answered)
        return page

    def expect(self, status: int, path: str) -> None:
        """An answer ``status`` to a request for ``path`` is what the test wants to see."""
        self.expected.append((status, path))

    def assert_clean(self) -> None:
        assert not self.problems, "the browser reported:\n" + "\n".join(self.problems)

    def _is_expected(self, status: int | None, url: str) -> bool:
        path = urlsplit(url).path
        return any(
            (status is None or status == want) and path == where for want, where in self.expected
        )

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chromium logs an error answer as "Failed to load resource: ... status of 401".
        status = re.search(r"status of (\d{3})", message.text)
        if status and self._is_expected(int(status.group(1)), message.location.get("url", "")):
            return
        self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def _failed(self, request: Request) -> None:
        failure = request.failure or ""
        # Leaving a page aborts what it still fetches (a live view's stream, say):
        # the page gave the request up, nothing failed.
        if "ERR_ABORTED" in failure:
            return
        self.problems.append(f"request failed: {request.method} {request.url[:200]}: {failure}")

    def _answered(self, response: Response) -> None:
        if response.status >= 400 and not self._is_expected(response.status, response.url):
            self.problems.append(
                f"{response.status} for {response.request.method} {response.url[:200]}: "
                f"{response.text()[:300] if response.status != 404 else ''}"
            )


def sign_in(context: BrowserContext, base_url: str, api_key: str) -> None:
    """Signs the browser context in as the sign-in page's script does (its token
    from the page, then POST /console/sign-in), without typing the key."""
    page = context.request.get(f"{base_url}/sign-in")
    token = re.search(r'data-token="([^"]+)"', page.text())
    assert token, "the sign-in page carries no CSRF token"
    answer = context.request.post(
        f"{base_url}/console/sign-in",
        data={"api_key": api_key},
        headers={"X-CSRF-Token": token.group(1)},
    )
    assert answer.status == 204, answer.text()


def opened(page: Page, path: str) -> Page:
    """``page`` at ``path`` once its screen has rendered (console.js takes the
    main element's aria-busy away then)."""
    page.goto(path)
    expect(page.locator("main#screen:not([aria-busy])")).to_be_attached(timeout=15_000)
    expect(page.locator("h1")).to_have_count(1)
    return page


class SimulatedMachine:
    """A mill streaming its spindle speed and temperature twice a second through
    the device SDK, and carrying out ``set_speed`` commands (others it rejects)."""

    PERIOD_S = 0.5

    def __init__(self, device_link: str, credential: str) -> None:
        self.speed_rpm = 8000.0
        self.client = DeviceClient(
            device_link, credential, flush_interval_s=0.2, on_command=self._answer
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._stream, name="simulated-mill", daemon=True)

    def start(self) -> SimulatedMachine:
        self.client.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.client.close()

    def _answer(self, command: Command) -> tuple[CommandOutcome, str]:
        if command.name != "set_speed":
            return CommandOutcome.REJECTED, f"this mill knows no {command.name!r}"
        self.speed_rpm = float(command.parameters.get("rpm", self.speed_rpm))
        return CommandOutcome.SUCCEEDED, f"spindle at {self.speed_rpm:.0f} rpm"

    def _stream(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(self.PERIOD_S):
            swing = math.sin((time.monotonic() - started) / 20)
            self.client.record_snapshot(
                {
                    "spindle_speed": self.speed_rpm + 150 * swing,
                    "spindle_temperature": 42 + 3 * swing,
                    "door_open": 0,
                }
            )
