"""The console's session as an attacker sees it: its cookie, CSRF and live views.

Plain HTTP (the browser tests drive the screens): what a forged form, a stolen
page or another tenant's view could do with the console's cookie.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie
from urllib.parse import quote

import httpx
import pytest

from tests.support.api import sign_up
from tests.support.platform import RunningPlatform
from tests.support.world import World, onboard

TOKEN = re.compile(r'data-token="([^"]+)"')
NEXT = re.compile(r'data-next="([^"]*)"')


@contextmanager
def signed_in(base: str, key: str) -> Iterator[httpx.Client]:
    """A browser-like client signed in to the console with ``key``."""
    with httpx.Client(base_url=base, timeout=10) as client:
        page = client.get("/sign-in")
        token = TOKEN.search(page.text)
        assert token, page.text[:500]
        answer = client.post(
            "/console/sign-in", json={"api_key": key}, headers={"X-CSRF-Token": token.group(1)}
        )
        assert answer.status_code == 204, answer.text
        yield client


def csrf(client: httpx.Client) -> dict[str, str]:
    return {"X-CSRF-Token": client.get("/console/session").json()["csrf_token"]}


def cookie_attributes(response: httpx.Response, name: str) -> dict[str, str | bool]:
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        if name in parsed:
            morsel = parsed[name]
            return {k: morsel[k] for k in ("httponly", "samesite", "path", "secure")}
    raise AssertionError(f"no {name} cookie set")


@pytest.fixture(scope="module")
def world(embedded_platform: RunningPlatform) -> World:
    return onboard(embedded_platform.base_url, "Console")


@pytest.fixture
def console(embedded_platform: RunningPlatform, world: World) -> Iterator[httpx.Client]:
    with signed_in(embedded_platform.base_url, world.tenant.key) as client:
        yield client


def test_signing_in_sets_a_session_cookie_scripts_and_other_sites_cannot_use(
    embedded_platform: RunningPlatform, world: World
) -> None:
    client = httpx.Client(base_url=embedded_platform.base_url, timeout=10)
    assert client.get("/").headers["location"] == "/sign-in"
    page = client.get("/sign-in")
    assert cookie_attributes(page, "imcloud_sign_in")["httponly"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    token = TOKEN.search(page.text)
    assert token is not None

    answer = client.post(
        "/console/sign-in",
        json={"api_key": world.tenant.key},
        headers={"X-CSRF-Token": token.group(1)},
    )
    assert answer.status_code == 204, answer.text
    session = cookie_attributes(answer, "imcloud_session")
    assert session["httponly"]
    assert session["path"] == "/"
    assert str(session["samesite"]).lower() == "strict"
    assert client.get("/").headers["location"] == "/fleet"
    assert client.get("/fleet").status_code == 200
    assert client.get("/v1/plants").json()["items"][0]["id"] == world.ids["plant_id"]


def test_a_sign_in_without_the_pages_token_or_with_a_wrong_key_is_refused(
    embedded_platform: RunningPlatform, world: World
) -> None:
    client = httpx.Client(base_url=embedded_platform.base_url, timeout=10)
    token = TOKEN.search(client.get("/sign-in").text)
    assert token is not None
    # A form another site posts has the user's cookies but not the page's token.
    forged = client.post("/console/sign-in", json={"api_key": world.tenant.key})
    assert forged.status_code == 403
    assert "csrf" in forged.json()["error"]["message"]

    wrong = client.post(
        "/console/sign-in",
        json={"api_key": world.tenant.key + "x"},
        headers={"X-CSRF-Token": token.group(1)},
    )
    assert wrong.status_code == 401
    assert "imcloud_session" not in client.cookies
    assert client.get("/fleet").headers["location"] == "/sign-in?next=%2Ffleet"


def test_a_change_with_the_cookie_needs_the_sessions_csrf_token(
    embedded_platform: RunningPlatform, world: World, console: httpx.Client
) -> None:
    plants_before = console.get("/v1/plants").json()["items"]
    body = {"name": "Forged", "time_zone": "UTC"}
    forged = console.post("/v1/plants", json=body)
    assert forged.status_code == 403
    assert "csrf" in forged.json()["error"]["message"]
    with signed_in(embedded_platform.base_url, world.tenant.key) as other_session:
        stolen = console.post("/v1/plants", json=body, headers=csrf(other_session))
    assert stolen.status_code == 403
    assert console.get("/v1/plants").json()["items"] == plants_before

    made = console.post("/v1/plants", json={**body, "name": "Real"}, headers=csrf(console))
    assert made.status_code == 201, made.text


def test_the_cookie_carries_the_keys_role_and_no_more(
    embedded_platform: RunningPlatform, world: World
) -> None:
    issued = world.tenant.post("/v1/api-keys", {"name": "console viewer", "role": "viewer"})
    with signed_in(embedded_platform.base_url, issued.json()["secret"]) as viewer:
        assert viewer.get("/console/session").json()["role"] == "viewer"
        refused = viewer.post(
            "/v1/plants", json={"name": "No", "time_zone": "UTC"}, headers=csrf(viewer)
        )
        assert refused.status_code == 403
        assert "csrf" not in refused.json()["error"]["message"]


def test_signing_out_or_revoking_the_key_ends_the_session(
    embedded_platform: RunningPlatform, world: World
) -> None:
    base = embedded_platform.base_url
    with signed_in(base, world.tenant.key) as console:
        assert console.post("/console/sign-out").status_code == 403  # no CSRF token
        assert console.post("/console/sign-out", headers=csrf(console)).status_code == 204
        assert console.get("/console/session").status_code == 401

    issued = world.tenant.post("/v1/api-keys", {"name": "short-lived", "role": "operator"})
    with signed_in(base, issued.json()["secret"]) as console:
        assert console.get("/console/session").status_code == 200
        revoked = world.tenant.post(f"/v1/api-keys/{issued.json()['id']}:revoke", {})
        assert revoked.status_code == 200, revoked.text
        assert console.get("/console/session").status_code == 401
        assert console.get("/machines/x").headers["location"].startswith("/sign-in")


def test_the_sign_in_page_only_returns_to_this_site(embedded_platform: RunningPlatform) -> None:
    client = httpx.Client(base_url=embedded_platform.base_url, timeout=10)
    for elsewhere in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        page = client.get("/sign-in", params={"next": elsewhere})
        assert NEXT.search(page.text).group(1) == "/fleet", elsewhere  # type: ignore[union-attr]
    page = client.get("/sign-in", params={"next": "/production?plant=a"})
    assert NEXT.search(page.text).group(1) == "/production?plant=a"  # type: ignore[union-attr]


def events(
    client: httpx.Client, path: str, *, until: float, **params: str
) -> Iterator[tuple[str, object]]:
    """The (event, data) pairs of a live view, for at most ``until`` seconds."""
    deadline = time.monotonic() + until
    url = f"/console/live?path={quote(path)}" + "".join(f"&{k}={v}" for k, v in params.items())
    try:
        with client.stream("GET", url, timeout=httpx.Timeout(10, read=until)) as response:
            assert response.status_code == 200, response.read()
            kind = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    yield kind, json.loads(line.removeprefix("data: "))
                if time.monotonic() > deadline:
                    return
    except httpx.ReadTimeout:
        return  # nothing changed in the rest of the time


def test_a_live_view_shows_a_change_within_two_seconds(world: World, console: httpx.Client) -> None:
    seen = events(console, "/v1/lines", until=20)
    kind, _ = next(seen)
    assert kind == "data"
    made_at = time.monotonic()
    made = console.post(
        "/v1/lines",
        json={"plant_id": world.ids["plant_id"], "name": "Live line"},
        headers=csrf(console),
    )
    assert made.status_code == 201, made.text
    for _, data in seen:
        names = {line["name"] for line in data["items"]}  # type: ignore[index]
        if "Live line" in names:
            assert time.monotonic() - made_at < 2.5
            return
    raise AssertionError("the live view never showed the new line")


def test_a_live_view_reaches_only_what_its_rest_route_lets_the_caller_see(
    embedded_platform: RunningPlatform, world: World, console: httpx.Client
) -> None:
    intruder = onboard(embedded_platform.base_url, "Live intruder", machines=1)
    with signed_in(embedded_platform.base_url, intruder.tenant.key) as theirs:
        victim_twin = f"/v1/equipment/{world.ids['equipment_id']}/twin"
        kind, data = next(events(theirs, victim_twin, until=5))
        assert kind == "failure"
        assert data["error"]["code"] == "not_found"  # type: ignore[index]
        assert set(data) == {"error"}  # type: ignore[arg-type]

    for outside in ("/console/session", "http://127.0.0.1:1/v1/plants", "/v1/../console/session"):
        refused = console.get("/console/live", params={"path": outside})
        assert refused.status_code == 422, outside
        assert refused.json()["error"]["details"][0]["field"] == "path"
    anonymous = httpx.get(f"{embedded_platform.base_url}/console/live?path=/v1/plants")
    assert anonymous.status_code == 401


def test_the_fleet_asks_many_twins_at_once_and_names_an_unknown_machine(
    world: World, console: httpx.Client
) -> None:
    machines = [world.ids["equipment_id"], world.ids["equipment_id_1"]]
    twins = console.get("/v1/twins", params={"equipment_ids": machines})
    assert twins.status_code == 200, twins.text
    assert [t["equipment_id"] for t in twins.json()["items"]] == machines
    unknown = console.get("/v1/twins", params={"equipment_ids": [machines[0], "missing-machine"]})
    assert unknown.status_code == 404
    assert "missing-machine" in unknown.json()["error"]["message"]
    too_many = console.get("/v1/twins", params={"equipment_ids": machines * 51})
    assert too_many.status_code == 422


def test_a_live_view_through_a_grant_is_audited_once_when_it_opens(
    embedded_platform: RunningPlatform, world: World
) -> None:
    base = embedded_platform.base_url
    maker = sign_up(base, f"Live maker {uuid.uuid4().hex[:6]}", kind="oem")
    machine = world.ids["equipment_id"]
    granted = world.tenant.post(
        "/v1/access-grants",
        {"grantee_tenant_id": maker.id, "equipment_id": machine, "scopes": ["twin:read"]},
    )
    assert granted.status_code == 201, granted.text
    twin_route = "GET /v1/granted-equipment/{equipment_id}/twin"

    def owner_sees() -> int:
        log = world.tenant.get("/v1/audit-events", page_size=500).json()["items"]
        return sum(1 for e in log if e["action"] == twin_route and e["actor_tenant_id"] == maker.id)

    with signed_in(base, maker.key) as console:
        polls = 0
        for kind, _ in events(console, f"/v1/granted-equipment/{machine}/twin", until=3.5):
            assert kind == "data"
            polls += 1
    assert polls >= 1
    assert owner_sees() == 1
