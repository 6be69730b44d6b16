"""Debian's chromium, headless, driven by Playwright: what a person sees of a served page."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.async_api import Browser, ConsoleMessage, Page, Response, async_playwright

from tests.support.services import unavailable

CHROMIUM = os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium")
# Pages are opened under a name, as a deployment is reached, not as localhost (which page
# code may treat apart); chromium resolves it to the loopback.
SITE_HOST = "taskflow.test"
# The longest any step waits for the page: a render, a click's target, an answer.
STEP_TIMEOUT_MS = 15_000
_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    f"--host-resolver-rules=MAP {SITE_HOST} 127.0.0.1",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless chromium, or a skip (a failure with TASKFLOW_REQUIRE_SERVICES=1) without it."""
    if not os.access(CHROMIUM, os.X_OK):
        unavailable("chromium", f"no {CHROMIUM}", "`make browser` installs it")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def site_url(base_url: str) -> str:
    """`base_url` (a server on 127.0.0.1) under SITE_HOST, with its port."""
    return f"http://{SITE_HOST}:{urlsplit(base_url).port}"


@dataclass
class WatchedPage:
    """A page and what went wrong on it: uncaught errors, console errors, and anything it
    loaded from another origin than its own."""

    page: Page
    origin: str
    errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    foreign_loads: list[str] = field(default_factory=list)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _on_response(self, response: Response) -> None:
        parts = urlsplit(response.url)
        if parts.scheme in ("http", "https") and f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign_loads.append(response.url)


@asynccontextmanager
async def watched_page(browser: Browser, origin: str) -> AsyncIterator[WatchedPage]:
    """A fresh page (its own cookies and storage) whose relative URLs resolve on `origin`."""
    context = await browser.new_context(base_url=origin, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        page = await context.new_page()
        watched = WatchedPage(page, origin)
        page.on("pageerror", lambda error: watched.errors.append(str(error)))
        page.on("console", watched._on_console)
        page.on("response", watched._on_response)
        yield watched
    finally:
        await context.close()
