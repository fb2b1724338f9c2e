"""What an admin does on the administration screen, and what an equipment maker
then sees on its own: a new API key's secret shown once, the key working until it
is revoked, the audit log naming who did it, and a grant reaching the maker."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.browser.console import Acme, PageOpener, opened
from tests.support.api import sign_up
from tests.support.platform import RunningPlatform


def revoke(page: Page, table_testid: str, row_text: str) -> None:
    row = page.get_by_test_id(table_testid).locator("tr", has_text=row_text)
    row.get_by_role("button", name="Revoke").click()
    row.get_by_role("button", name="Yes, revoke").click()


def test_a_new_api_key_is_shown_once_works_until_revoked_and_is_audited(
    page_as: Callable[[str], Page], console_platform: RunningPlatform
) -> None:
    base_url = console_platform.base_url
    page = opened(page_as("admin"), "/admin")
    name = f"robot {uuid.uuid4().hex[:6]}"
    create = page.get_by_test_id("create-api-key")
    create.get_by_label("Name").fill(name)
    create.get_by_label("Role").select_option("operator")
    create.get_by_role("button", name="Create key").click()

    secret = page.get_by_test_id("issued-secret").get_by_role("textbox").input_value()
    assert secret.startswith("imk_")
    expect(page.get_by_test_id("api-keys").locator("tr", has_text=name)).to_contain_text("operator")
    as_robot = {"authorization": f"Bearer {secret}"}
    assert httpx.get(f"{base_url}/v1/tenant", headers=as_robot).status_code == 200

    opened(page, "/admin")
    expect(page.get_by_test_id("issued-secret")).to_have_count(0)
    assert secret not in page.content()

    revoke(page, "api-keys", name)
    expect(page.get_by_test_id("api-keys").locator("tr", has_text=name)).to_contain_text("revoked")
    assert httpx.get(f"{base_url}/v1/tenant", headers=as_robot).status_code == 401

    audit = page.get_by_test_id("audit-filter")
    audit.get_by_label("Action").fill("POST /v1/api-keys")
    audit.get_by_role("button", name="Show events").click()
    newest = page.get_by_test_id("audit-log").locator("tbody tr").first
    expect(newest).to_contain_text("admin key")
    expect(newest).to_contain_text("201")


def test_a_grant_given_on_the_admin_screen_lists_the_machine_for_the_maker(
    page_as: Callable[[str], Page],
    open_page: PageOpener,
    acme: Acme,
    console_platform: RunningPlatform,
) -> None:
    maker = sign_up(console_platform.base_url, "Maker", kind="oem")
    machine = acme.world.tenant.get(f"/v1/equipment/{acme.machine}").json()
    admin = opened(page_as("admin"), "/admin")
    grant = admin.get_by_test_id("create-grant")
    grant.get_by_label("Equipment maker's tenant id").fill(maker.id)
    grant.get_by_label("Machine").select_option(acme.machine)
    grant.get_by_label("Send commands (commands:send)").check()
    grant.get_by_role("button", name="Grant access").click()
    given = admin.get_by_test_id("grants").locator("tr", has_text=maker.id)
    expect(given).to_contain_text("commands:send, telemetry:read, twin:read")

    maker_page = opened(open_page(maker.key), "/maker")
    granted = maker_page.get_by_test_id("granted-machines")
    link = granted.get_by_role("link", name=machine["name"])
    expect(link).to_have_attribute("href", f"/maker/machines/{acme.machine}")
    expect(granted.locator("tbody tr")).to_have_count(1)
    expect(granted.locator("tbody tr")).to_contain_text("commands:send")

    revoke(admin, "grants", maker.id)
    expect(given).to_contain_text("revoked")
    opened(maker_page, "/maker")
    expect(granted.get_by_role("link")).to_have_count(0)
