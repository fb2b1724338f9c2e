"""The newcomer's path: `imcloud up` with nothing else installed."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import jwt

from tests.support.api import Tenant, sign_up
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


def test_the_embedded_mode_signs_tokens_with_a_secret_of_its_own_data_directory(
    embedded_platform: RunningPlatform,
) -> None:
    secret_file = Path(embedded_platform.env["IMCLOUD_DATA_DIR"]) / "jwt-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    assert len(bytes.fromhex(secret)) == 32

    acme = sign_up(embedded_platform.base_url, "Acme Secrets")
    token = acme.post("/v1/tokens", {}).json()["access_token"]
    claims = jwt.decode(token, secret, algorithms=["HS256"])  # signed with that file's secret
    # A secret shipped with the code (as one was) forges nothing here.
    forged = jwt.encode(claims, "embedded-insecure-jwt-secret", algorithm="HS256")
    refused = Tenant(embedded_platform.base_url, forged, acme.id).get("/v1/plants")
    assert refused.status_code == 401
