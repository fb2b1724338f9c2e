"""The newcomer's path: `imcloud up` with nothing else installed."""

from __future__ import annotations

import httpx

from tests.support.api import sign_up
from tests.support.platform import RunningPlatform


def test_up_serves_the_api_and_its_docs(embedded_platform: RunningPlatform) -> None:
    base = embedded_platform.base_url
    assert httpx.get(f"{base}/healthz").status_code == 200
    assert httpx.get(f"{base}/readyz").json()["status"] == "ok"
    docs = httpx.get(f"{base}/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text
    assert "/v1/plants" in httpx.get(f"{base}/openapi.json").json()["paths"]

    acme = sign_up(base, "Acme Embedded")
    created = acme.post("/v1/plants", {"name": "Augsburg", "time_zone": "Europe/Berlin"})
    assert created.status_code == 201, created.text
    listed = acme.get("/v1/plants").json()["items"]
    assert [p["id"] for p in listed] == [created.json()["id"]]
