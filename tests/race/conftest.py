"""One real `taskflow serve` per module, on PostgreSQL with Redis, for racing requests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from tests.conftest import TEST_SECRET_KEY, build_settings
from tests.factories import DomainFactory
from tests.support.mailbox import Mailbox
from tests.support.server import RunningServer, migrate, running_server, server_env


@dataclass(frozen=True)
class RaceServer:
    server: RunningServer
    make: DomainFactory
    mailbox: Mailbox

    @property
    def url(self) -> str:
        return self.server.base_url

    async def get(self, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            return await client.get(path, headers=headers, **kwargs)


@pytest.fixture(scope="module")
async def race_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    create_postgres_database: Any,
    redis_server_url: str,
    smtp: tuple[Mailbox, int],
) -> AsyncIterator[RaceServer]:
    """`taskflow serve` (one worker) on a fresh PostgreSQL database with Redis, as production
    runs it; data is made directly in its database by the domain factory."""
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    database_url = await create_postgres_database(f"race_{module}")
    key_prefix = f"tfrace{os.getpid()}{module}"[:40]
    env = server_env(
        database_url,
        smtp[1],
        REDIS_URL=redis_server_url,
        REDIS_KEY_PREFIX=key_prefix,
        SECRET_KEY=TEST_SECRET_KEY,
        RATE_LIMIT_LOGIN="off",
        RATE_LIMIT_REGISTER="off",
        RATE_LIMIT_PASSWORD_RESET="off",
        RATE_LIMIT_DEFAULT="off",
    )
    migrate(env)
    engine = create_async_engine(database_url)
    make = DomainFactory(
        async_sessionmaker(engine, expire_on_commit=False),
        build_settings(database_url=database_url),
    )
    try:
        with running_server(env, tmp_path_factory.mktemp("race") / "server.log") as server:
            yield RaceServer(server=server, make=make, mailbox=smtp[0])
    finally:
        await engine.dispose()
        redis = Redis.from_url(redis_server_url)
        async for key in redis.scan_iter(match=f"{key_prefix}:*", count=500):
            await redis.delete(key)
        await redis.aclose()
