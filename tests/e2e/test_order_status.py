"""A tenant's customer follows an order with the order key given at acceptance:
the key opens that one order, without an API key, and nothing else does."""

from __future__ import annotations

import httpx
import pytest

from tests.support.platform import RunningPlatform
from tests.support.world import onboard, order_customized


@pytest.fixture(params=["embedded", "distributed"])
def platform(request: pytest.FixtureRequest) -> RunningPlatform:
    platform: RunningPlatform = request.getfixturevalue(f"{request.param}_platform")
    return platform


def test_an_order_key_opens_its_own_order_and_nothing_else(platform: RunningPlatform) -> None:
    base = platform.base_url
    bikes, boats = onboard(base, "Bikes"), onboard(base, "Boats")
    for world in (bikes, boats):
        order_customized(world)

    def status(headers: dict[str, str]) -> httpx.Response:
        return httpx.get(f"{base}/v1/order-status", headers=headers, timeout=30)

    for world in (bikes, boats):
        seen = status({"X-Order-Key": world.ids["order_key"]})
        assert seen.status_code == 200, seen.text
        order = seen.json()
        assert order["id"] == world.ids["order_id"]
        assert (order["family_name"], order["selections"]) == ("Custom housing", {"alloy": "AlMg3"})
        assert [stage["state"] for stage in order["stages"]] == ["accepted", "scheduled"]
        assert order["state"] == "scheduled"
        # The customer's view: nothing of the tenant's own bookkeeping.
        assert not {"work_order_id", "plant_id", "customer_reference", "quote_id"} & set(order)

    refused = {
        "an unknown key": status({"X-Order-Key": bikes.ids["order_key"][:-4] + "abcd"}),
        "no key": status({}),
        "an API key as the order key": status({"X-Order-Key": bikes.tenant.key}),
        "an API key instead": status({"Authorization": f"Bearer {bikes.tenant.key}"}),
    }
    for what, answer in refused.items():
        assert answer.status_code == 404, f"{what}: {answer.text}"
    assert len({answer.json()["error"]["message"] for answer in refused.values()}) == 1

    # Nor is the order key a credential for the tenant's API.
    as_credential = httpx.get(
        f"{base}/v1/orders/{bikes.ids['order_id']}",
        headers={"Authorization": f"Bearer {bikes.ids['order_key']}"},
        timeout=30,
    )
    assert as_credential.status_code == 401, as_credential.text

    # A tenant that leaves the platform takes its customers' keys along.
    left = boats.tenant.http.delete("/v1/tenant")
    assert left.status_code == 204, left.text
    gone = status({"X-Order-Key": boats.ids["order_key"]})
    assert gone.status_code == 404, gone.text
    assert status({"X-Order-Key": bikes.ids["order_key"]}).status_code == 200
