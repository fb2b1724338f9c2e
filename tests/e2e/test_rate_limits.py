"""Rate limits per credential and per tenant answer 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform, embedded


@pytest.fixture(scope="module")
def strict_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with embedded(
        tmp_path_factory.mktemp("strict"),
        IMCLOUD_GATEWAY__CREDENTIAL_RATE_PER_S="2",
        IMCLOUD_GATEWAY__CREDENTIAL_BURST="5",
        IMCLOUD_GATEWAY__TENANT_RATE_PER_S="4",
        IMCLOUD_GATEWAY__TENANT_BURST="8",
    ) as platform:
        yield platform


def statuses(tenant: Tenant, count: int) -> list[httpx.Response]:
    return [tenant.get("/v1/tenant") for _ in range(count)]


def test_a_credential_over_its_burst_gets_429_with_retry_after(
    strict_platform: RunningPlatform,
) -> None:
    acme = sign_up(strict_platform.base_url, "Acme limited")
    answers = statuses(acme, 12)
    codes = [a.status_code for a in answers]
    assert codes[:5] == [200] * 5
    refused = next(a for a in answers if a.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "resource_exhausted"
    assert "this credential" in refused.json()["error"]["message"]


def test_the_tenant_limit_covers_all_its_credentials(strict_platform: RunningPlatform) -> None:
    base = strict_platform.base_url
    acme = sign_up(base, "Acme many keys")
    keys = [acme.post("/v1/api-keys", {"name": f"k{i}", "role": "viewer"}) for i in range(3)]
    holders = [Tenant(base, k.json()["secret"], acme.id) for k in keys if k.status_code == 201]
    answers = [holder.get("/v1/tenant") for _ in range(4) for holder in holders]
    refused = [a for a in answers if a.status_code == 429]
    assert refused, [a.status_code for a in answers]
    assert any("this tenant" in a.json()["error"]["message"] for a in refused)
