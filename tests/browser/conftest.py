"""One `taskflow serve` (SQLite) and one headless chromium per module of browser tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from tests.support.browser import WatchedPage, chromium, site_url, watched_page
from tests.support.mailbox import Mailbox
from tests.support.server import RunningServer, migrate, running_server, server_env

# A folder for what the browser tests saw (screenshots), to look at after a run.
SCREENSHOTS = os.environ.get("TEST_SCREENSHOTS")
Screenshot = Callable[[str], Awaitable[None]]


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, smtp: tuple[Mailbox, int]
) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("site")
    env = server_env(f"sqlite+aiosqlite:///{folder / 'taskflow.db'}", smtp[1])
    migrate(env)
    with running_server(env, folder / "server.log") as server:
        yield server


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def page(browser: Browser, site: RunningServer) -> AsyncIterator[WatchedPage]:
    async with watched_page(browser, site_url(site.base_url)) as watched:
        yield watched


@pytest.fixture
def screenshot(page: WatchedPage) -> Screenshot:
    """Save what the page shows as NAME.png in TEST_SCREENSHOTS, when it is set."""

    async def save(name: str) -> None:
        if SCREENSHOTS:
            await page.page.screenshot(path=Path(SCREENSHOTS) / f"{name}.png")

    return save
