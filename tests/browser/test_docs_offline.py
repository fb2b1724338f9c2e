"""The API's reference pages on a plant network without internet: every request
that leaves the machine is aborted, and both still show the API."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, expect


def offline(page: Page) -> list[str]:
    """Aborts every request to another host than this machine; the aborted URLs."""
    aborted: list[str] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort("internetdisconnected")

    page.context.route("**/*", only_local)
    return aborted


def test_swagger_ui_shows_the_operations_offline(page: Page) -> None:
    aborted = offline(page)
    page.goto("/docs")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible(timeout=15_000)
    assert operations.count() > 50
    expect(page.locator(".opblock-summary-path", has_text="/v1/equipment").first).to_be_visible()
    assert aborted == []


def test_redoc_shows_the_headings_offline(page: Page) -> None:
    aborted = offline(page)
    page.goto("/redoc")
    expect(page.locator("h1").first).to_contain_text("imcloud", timeout=15_000)
    expect(page.locator("h2").first).to_be_visible()
    assert page.locator("h2").count() > 20
    assert aborted == []
