"""Shared fixtures: a PostgreSQL database per xdist worker, the test SMTP server, the app."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow import db_migrations
from taskflow.config import Settings
from taskflow.main import create_app
from taskflow.models import Base
from tests.factories import DomainFactory, UserFactory
from tests.support.mailbox import Mailbox, smtp_server
from tests.support.services import (
    DEFAULT_TEST_DATABASE,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    unavailable,
    worker_number,
)

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256-0123456789"
_LAYERS = ("unit", "integration", "api", "e2e", "browser", "race", "property")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its layer, from the folder it lives in."""
    for item in items:
        parts = item.path.parts
        for layer in _LAYERS:
            if layer in parts:
                item.add_marker(getattr(pytest.mark, layer))


# --- PostgreSQL --------------------------------------------------------------------------


async def _connect(url: str) -> asyncpg.Connection:
    parts = make_url(url)
    try:
        return await asyncpg.connect(
            host=parts.host or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password,
            database=parts.database or "postgres",
            timeout=5,
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        unavailable("PostgreSQL", f"{type(error).__name__}: {error}")


class PostgresDatabases:
    """This process's PostgreSQL databases, made on first use and dropped at the end.

    Nothing connects until a test needs PostgreSQL, so a run on SQLite alone
    (TASKFLOW_TEST_DATABASE=sqlite) needs no PostgreSQL server.
    """

    def __init__(self) -> None:
        self._admin: asyncpg.Connection | None = None
        self._cleaner: asyncpg.Connection | None = None
        self._main_url: str | None = None
        self._made: list[str] = []

    async def create(self, suffix: str) -> str:
        """A fresh, empty database; returns its URL."""
        if self._admin is None:
            self._admin = await _connect(TEST_DATABASE_URL)
        name = f"taskflow_test_{suffix}_{worker_number()}_{os.getpid()}"
        await self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await self._admin.execute(f'CREATE DATABASE "{name}"')
        self._made.append(name)
        url = make_url(TEST_DATABASE_URL).set(drivername="postgresql+asyncpg", database=name)
        return url.render_as_string(hide_password=False)

    async def main_url(self) -> str:
        """The database the tests share (one at a time), migrated to head once."""
        if self._main_url is None:
            url = await self.create("main")
            await asyncio.to_thread(db_migrations.upgrade, url)
            self._cleaner = await _connect(url)
            self._main_url = url
        return self._main_url

    async def empty_main(self) -> None:
        if self._cleaner is not None:
            tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
            await self._cleaner.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")

    async def close(self) -> None:
        if self._cleaner is not None:
            await self._cleaner.close()
        if self._admin is not None:
            for name in self._made:
                await self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await self._admin.close()


@pytest.fixture(scope="session")
async def postgres() -> AsyncIterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    await databases.close()


@pytest.fixture(scope="session")
async def create_postgres_database(postgres: PostgresDatabases) -> Any:
    """Make (and at the end drop) a fresh PostgreSQL database; returns its URL."""
    return postgres.create


@pytest.fixture(scope="session")
async def postgres_url(postgres: PostgresDatabases) -> str:
    """This worker's shared database, migrated to head once."""
    return await postgres.main_url()


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each SQLite test gets a copy of it."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    await asyncio.to_thread(db_migrations.upgrade, f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def sqlite_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this worker's SQLite tests keep their database: one path, so their settings
    (and so their app, see `app`) are the same from test to test."""
    return tmp_path_factory.mktemp("sqlite-db") / "taskflow.db"


@pytest.fixture
async def database_url(
    request: pytest.FixtureRequest,
    postgres: PostgresDatabases,
    sqlite_template: Path,
    sqlite_path: Path,
) -> AsyncIterator[str]:
    """The database of one test: the worker's PostgreSQL database, emptied after the test, or
    a fresh copy of the migrated SQLite template. Which one: the test's parameter (domain
    tests run on both), else TASKFLOW_TEST_DATABASE (postgresql by default)."""
    if getattr(request, "param", DEFAULT_TEST_DATABASE) == "sqlite":
        for leftover in sqlite_path.parent.glob(f"{sqlite_path.name}*"):
            leftover.unlink()  # the database and its -wal and -shm files
        shutil.copyfile(sqlite_template, sqlite_path)
        yield f"sqlite+aiosqlite:///{sqlite_path}"
        return
    yield await postgres.main_url()
    await postgres.empty_main()


# --- Redis -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def redis_server_url() -> str:
    """This worker's own Redis database number on the test Redis."""
    base = urlsplit(TEST_REDIS_URL)
    worker_url = f"{base.scheme}://{base.netloc}/{worker_number() % 15 + 1}"
    client = Redis.from_url(worker_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except (OSError, RedisError) as error:
        unavailable("Redis", f"{type(error).__name__}: {error}")
    finally:
        await client.aclose()
    return worker_url


def redis_key_prefix() -> str:
    """The Redis key prefix of this process's apps (see build_settings)."""
    return f"tftest{os.getpid()}"


async def _forget_keys(client: Redis) -> None:
    # Only this process's keys: other test processes may share the database number.
    async for key in client.scan_iter(match=f"{redis_key_prefix()}:*", count=500):
        await client.delete(key)


@pytest.fixture
async def redis_url(redis_server_url: str) -> AsyncIterator[str]:
    client = Redis.from_url(redis_server_url)
    await _forget_keys(client)
    yield redis_server_url
    await _forget_keys(client)
    await client.aclose()


# --- email -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, int]) -> Mailbox:
    box = smtp[0]
    box.clear()
    return box


# --- the app -----------------------------------------------------------------------------


def build_settings(**values: Any) -> Settings:
    """Settings for tests: nothing from a .env file, secrets fixed, everything overridable."""
    base: dict[str, Any] = {
        "environment": "test",
        "secret_key": TEST_SECRET_KEY,
        "redis_url": None,
        "frontend_url": "http://frontend.test",
        "log_level": "WARNING",
        "password_hash_concurrency": 4,
        # Generous, so a loaded test machine does not turn cache hits into misses; the
        # tests of a slow Redis set the production budget themselves.
        "redis_timeout_seconds": 0.5,
        # Its own Redis keys, so test runs side by side on one Redis cannot meet.
        "redis_key_prefix": redis_key_prefix(),
        # Limits are switched on by the tests about them; elsewhere many calls come from one IP.
        "rate_limit_login": "off",
        "rate_limit_register": "off",
        "rate_limit_password_reset": "off",
        "rate_limit_default": "off",
    }
    base.update(values)
    return Settings(_env_file=None, **base)


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, database_url: str, mailbox: Mailbox, smtp: tuple[Mailbox, int]
) -> Settings:
    """The app's settings; a test changes them with @pytest.mark.settings(name=value, ...)."""
    marker = request.node.get_closest_marker("settings")
    overrides = dict(marker.kwargs) if marker else {}
    if "redis_url" in overrides and overrides["redis_url"] == "from-fixture":
        overrides["redis_url"] = request.getfixturevalue("redis_url")
    return build_settings(
        database_url=database_url,
        email_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        **overrides,
    )


_apps: dict[str, FastAPI] = {}


def _app_for(settings: Settings) -> FastAPI:
    """One app per distinct settings in this worker. Building an app's routes is the costly
    part (tens of milliseconds); every test still runs the app's own lifespan, so it gets
    fresh database pools, Redis client, limiter and cache state."""
    key = repr(
        {
            name: value.get_secret_value() if isinstance(value, SecretStr) else value
            for name, value in settings
        }
    )
    if key not in _apps:
        _apps[key] = create_app(settings)
    return _apps[key]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = _app_for(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


@pytest.fixture
def sessionmaker(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    """Sessions on the app's own database, for arranging data and checking what was stored."""
    maker: async_sessionmaker[AsyncSession] = app.state.database.sessionmaker
    return maker


@pytest.fixture
def users(app: FastAPI, settings: Settings) -> UserFactory:
    return UserFactory(app.state.database.sessionmaker, settings)


@pytest.fixture
def make(app: FastAPI, settings: Settings) -> DomainFactory:
    """Users, projects, members and tasks stored in the app's database."""
    return DomainFactory(app.state.database.sessionmaker, settings)
