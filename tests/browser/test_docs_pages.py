"""/docs and /redoc as a person sees them: every operation of the live document rendered,
no error banner, nothing loaded from elsewhere, and the Authorize flow of Swagger UI."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import Screenshot
from tests.factories import DEFAULT_PASSWORD, unique_email
from tests.support.browser import STEP_TIMEOUT_MS, WatchedPage
from tests.support.server import RunningServer

# ReDoc's footer links its logo from Redocly's CDN; the page's policy blocks it, which is
# the point: nothing is loaded from elsewhere. Any other console error fails the test.
REDOC_CDN_LOGO = "cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def document(site: RunningServer) -> dict[str, Any]:
    schema: dict[str, Any] = httpx.get(f"{site.base_url}/openapi.json", timeout=10).json()
    return schema


def operation_ids(document: dict[str, Any]) -> set[str]:
    return {
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
    }


def assert_nothing_went_wrong(watched: WatchedPage, *, tolerated: str | None = None) -> None:
    console_errors = [
        text for text in watched.console_errors if tolerated is None or tolerated not in text
    ]
    assert watched.errors == []
    assert console_errors == []
    assert watched.foreign_loads == []


async def test_swagger_ui_renders_every_operation_of_the_document(
    page: WatchedPage, document: dict[str, Any], screenshot: Screenshot
) -> None:
    expected = operation_ids(document)

    await page.page.goto("/docs")

    shown_ids = page.page.locator(".opblock .opblock-summary-operation-id")
    await expect(shown_ids).to_have_count(len(expected), timeout=STEP_TIMEOUT_MS)
    assert set(await shown_ids.all_inner_texts()) == expected
    await expect(page.page.locator(".errors-wrapper")).to_have_count(0)
    await expect(page.page.get_by_text("Unable to render this definition")).to_have_count(0)
    await expect(page.page.locator(".info .title")).to_contain_text(document["info"]["title"])
    await screenshot("docs")
    assert_nothing_went_wrong(page)


async def test_redoc_renders_every_operation_of_the_document(
    page: WatchedPage, document: dict[str, Any], screenshot: Screenshot
) -> None:
    expected = operation_ids(document)
    summaries = {
        operation["summary"] for item in document["paths"].values() for operation in item.values()
    }

    await page.page.goto("/redoc")

    # ReDoc gives each operation's section the id "operation/<operationId>".
    sections = page.page.locator('[data-section-id^="operation/"]')
    await expect(sections).to_have_count(len(expected), timeout=STEP_TIMEOUT_MS)
    shown_ids = {
        (await section.get_attribute("data-section-id") or "").removeprefix("operation/")
        for section in await sections.all()
    }
    assert shown_ids == expected
    headings = set(await page.page.locator("h2").all_inner_texts())
    assert summaries <= headings, summaries - headings
    await expect(page.page.get_by_text("failed to render this spec")).to_have_count(0)
    # The search runs in a web worker: it finds an operation by its summary.
    await page.page.get_by_placeholder("Search...").fill("Liveness")
    await expect(page.page.locator('[data-role="search:results"] li')).not_to_have_count(0)
    await screenshot("redoc")
    assert_nothing_went_wrong(page, tolerated=REDOC_CDN_LOGO)


async def test_authorize_then_try_it_out_shows_the_caller(
    page: WatchedPage, site: RunningServer, screenshot: Screenshot
) -> None:
    email = unique_email("docs")
    async with httpx.AsyncClient(base_url=site.base_url, timeout=10) as http:
        registered = await http.post(
            "/api/v1/auth/register",
            json={"email": email, "password": DEFAULT_PASSWORD, "full_name": "Docs Reader"},
        )
    assert registered.status_code == 201, registered.text
    ui = page.page

    await ui.goto("/docs")
    await ui.locator(".auth-wrapper button.authorize").click()
    dialog = ui.locator(".dialog-ux")
    await dialog.locator("#oauth_username").fill(email)
    await dialog.locator("#oauth_password").fill(DEFAULT_PASSWORD)
    await dialog.locator("button.modal-btn.authorize").first.click()
    await expect(dialog.get_by_text("Logout").first).to_be_visible()
    await dialog.locator("button.btn-done").first.click()
    operation = ui.locator("#operations-users-read_me")
    await operation.locator(".opblock-summary").click()
    await operation.get_by_role("button", name="Try it out").click()
    await operation.get_by_role("button", name="Execute").click()

    answer = operation.locator(".live-responses-table .response")
    await expect(answer.locator(".response-col_status")).to_have_text("200")
    await expect(answer.locator(".response-col_description")).to_contain_text(f'"{email}"')
    await answer.scroll_into_view_if_needed()
    await screenshot("docs-authorized")
    assert_nothing_went_wrong(page)
