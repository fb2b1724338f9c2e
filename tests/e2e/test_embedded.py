"""The newcomer's path: `imcloud up` with nothing else installed."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.api import sign_up
from tests.support.platform import ImcloudProcess, Ports, wait_until_healthy


def test_up_serves_the_api_with_no_kafka_or_postgresql(tmp_path: Path) -> None:
    ports = Ports()
    env = {**ports.environment(), "IMCLOUD_DATA_DIR": str(tmp_path / "data")}
    platform = ImcloudProcess("up", env=env, log_path=tmp_path / "up.log")
    try:
        seconds = wait_until_healthy(platform, ports.base_url, timeout_s=30)
        print(f"/healthz answered 200 after {seconds:.1f} s")

        assert httpx.get(f"{ports.base_url}/readyz").json()["status"] == "ok"
        docs = httpx.get(f"{ports.base_url}/docs")
        assert docs.status_code == 200
        assert "swagger-ui" in docs.text
        paths = httpx.get(f"{ports.base_url}/openapi.json").json()["paths"]
        assert "/v1/plants" in paths

        acme = sign_up(ports.base_url, "Acme Embedded")
        created = acme.post("/v1/plants", {"name": "Augsburg", "time_zone": "Europe/Berlin"})
        assert created.status_code == 201, created.text
        listed = acme.get("/v1/plants").json()["items"]
        assert [p["id"] for p in listed] == [created.json()["id"]]
    finally:
        exit_code = platform.stop()
    assert exit_code == 0, platform.log()
    assert (tmp_path / "data" / "products.db").exists()
