"""Signing in and out of the console, and what the session cookie lets a request do."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.browser.console import Acme, BrowserWatch, PageOpener
from tests.support.platform import RunningPlatform


def test_signing_in_with_a_key_opens_the_fleet_in_a_strict_http_only_cookie(
    page: Page, acme: Acme
) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.get_by_label("API key").fill(acme.keys["operator"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/fleet$"))
    expect(page.locator("h1")).to_have_count(1)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "imcloud_session"]
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    assert page.evaluate("document.cookie") == "", "scripts can read a cookie"


def test_a_screen_asked_for_before_signing_in_opens_after_it(page: Page, acme: Acme) -> None:
    page.goto("/service")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fservice$"))
    page.get_by_label("API key").fill(acme.keys["viewer"])
    page.get_by_label("API key").press("Enter")
    expect(page).to_have_url(re.compile(r"/service$"))


def test_a_wrong_key_shows_an_error_and_signs_nobody_in(
    page: Page, watch: BrowserWatch, acme: Acme
) -> None:
    watch.expect(401, "/console/sign-in")
    page.goto("/sign-in")
    page.get_by_label("API key").fill("imk_not_a_key_of_anyone")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not an active API key")
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    assert not [c for c in page.context.cookies() if c["name"] == "imcloud_session"]


def test_signing_out_ends_the_session(open_page: PageOpener, acme: Acme) -> None:
    page = open_page(acme.keys["viewer"])
    page.goto("/fleet")
    expect(page.locator("h1")).to_have_count(1)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in"))
    assert not [c for c in page.context.cookies() if c["name"] == "imcloud_session"]
    page.goto("/fleet")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Ffleet$"))


def signed_in_cookie(base_url: str, api_key: str) -> httpx.Client:
    """An HTTP client holding a console session cookie, as a browser would after
    signing in (no Authorization header)."""
    client = httpx.Client(base_url=base_url, timeout=10)
    page = client.get("/sign-in")
    token = re.search(r'data-token="([^"]+)"', page.text)
    assert token
    answer = client.post(
        "/console/sign-in", json={"api_key": api_key}, headers={"X-CSRF-Token": token.group(1)}
    )
    assert answer.status_code == 204, answer.text
    return client


def test_a_state_changing_request_with_the_cookie_needs_the_csrf_token(
    console_platform: RunningPlatform, acme: Acme
) -> None:
    body = {"name": "Plant 2", "time_zone": "Europe/Berlin"}
    browser = signed_in_cookie(console_platform.base_url, acme.keys["admin"])
    try:
        assert browser.get("/v1/plants").status_code == 200
        refused = browser.post("/v1/plants", json=body)
        assert refused.status_code == 403, refused.text
        assert "csrf token missing or wrong" in refused.json()["error"]["message"]
        wrong = browser.post("/v1/plants", json=body, headers={"X-CSRF-Token": "0" * 64})
        assert wrong.status_code == 403, wrong.text
        csrf = browser.get("/console/session").json()["csrf_token"]
        created = browser.post("/v1/plants", json=body, headers={"X-CSRF-Token": csrf})
        assert created.status_code == 201, created.text
    finally:
        browser.close()


def test_signing_in_needs_the_sign_in_pages_token(
    console_platform: RunningPlatform, acme: Acme
) -> None:
    answer = httpx.post(
        f"{console_platform.base_url}/console/sign-in",
        json={"api_key": acme.keys["owner"]},
        timeout=10,
    )
    assert answer.status_code == 403, answer.text
    assert "imcloud_session" not in answer.cookies
