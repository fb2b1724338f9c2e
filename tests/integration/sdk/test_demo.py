"""`imcloud up --demo`: the platform plus a small simulated plant in one process."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.support.api import Tenant
from tests.support.platform import embedded
from tests.support.waiting import wait_for

BANNER = re.compile(r"API key:\s+(imk_\S+).*?/v1/equipment/([0-9a-f-]{36})/twin", re.DOTALL)


def test_the_demo_plant_streams_into_its_own_tenant_until_the_platform_stops(
    tmp_path: Path,
) -> None:
    with embedded(tmp_path, "--demo", timeout_s=60) as platform:
        process = platform.processes["all"]
        banner = wait_for(
            lambda: BANNER.search(process.log()),
            timeout_s=60,
            what="the demo banner",
        )
        key, equipment_id = banner.group(1), banner.group(2)
        tenant = Tenant(platform.base_url, key, "")
        machines = tenant.get("/v1/equipment").json()["items"]
        assert len(machines) == 5

        def last_seen() -> str | None:
            twin = tenant.get(f"/v1/equipment/{equipment_id}/twin").json()
            return str(twin["last_seen_time"]) if twin["last_seen_time"] else None

        first = wait_for(last_seen, timeout_s=30, what="the first reading")
        wait_for(
            lambda: (last_seen() or "") > first, timeout_s=30, what="readings that keep coming"
        )
        assert tenant.get(f"/v1/equipment/{equipment_id}/twin").json()["connected"]
        started = time.monotonic()
    # Leaving the block stopped the platform and checked that it exited with 0.
    assert time.monotonic() - started < 10, "the demo held up the shutdown"
    assert "Traceback" not in process.log()
