"""`imcloud up --demo`: the platform plus a small simulated plant in one process."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.support.api import Tenant
from tests.support.platform import ImcloudProcess, Ports, wait_until_healthy
from tests.support.waiting import wait_for

BANNER = re.compile(r"API key:\s+(imk_\S+).*?/v1/equipment/([0-9a-f-]{36})/twin", re.DOTALL)


def test_the_demo_plant_streams_into_its_own_tenant_until_the_platform_stops(
    tmp_path: Path,
) -> None:
    ports = Ports()
    env = {**ports.environment(), "IMCLOUD_DATA_DIR": str(tmp_path)}
    process = ImcloudProcess("up", "--demo", env=env, log_path=tmp_path / "up.log")
    try:
        wait_until_healthy(process, ports.base_url, timeout_s=60)
        banner = wait_for(
            lambda: BANNER.search(process.log()),
            timeout_s=60,
            what="the demo banner",
        )
        key, equipment_id = banner.group(1), banner.group(2)
        tenant = Tenant(ports.base_url, key, "")
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
    finally:
        started = time.monotonic()
        code = process.stop()
    assert code == 0, process.log()[-3000:]
    assert time.monotonic() - started < 10, "the demo held up the shutdown"
    assert "Traceback" not in process.log()
