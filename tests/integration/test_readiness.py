"""Readiness (/health) answers 503 only for what breaks requests: the database, or a schema
that is not at this version's migrations. Redis is optional: without it the answer is 200,
degraded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from taskflow import db_migrations
from taskflow.main import create_app
from tests.conftest import build_settings

CLOSED_PORT = 1  # nothing listens on port 1 of the loopback


@asynccontextmanager
async def client_of(**settings: Any) -> AsyncIterator[AsyncClient]:
    application = create_app(build_settings(**settings))
    async with (
        LifespanManager(application),
        AsyncClient(transport=ASGITransport(app=application), base_url="http://testserver") as http,
    ):
        yield http


async def set_revision(url: str, revision: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :v"), {"v": revision}
            )
    finally:
        await engine.dispose()


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'readiness.db'}"


async def test_a_database_never_migrated_is_503_naming_migrations(sqlite_file: str) -> None:
    async with client_of(database_url=sqlite_file) as http:
        response = await http.get("/health")
        live = await http.get("/health/live")

    assert response.status_code == 503, response.text
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "migrations": "error", "redis": "disabled"},
    }
    assert live.status_code == 200


@pytest.mark.postgres
async def test_a_postgresql_database_never_migrated_is_503_naming_migrations(
    create_postgres_database: Any,
) -> None:
    url = await create_postgres_database("unmigrated")
    async with client_of(database_url=url) as http:
        response = await http.get("/health")

    assert response.status_code == 503, response.text
    assert response.json()["checks"]["migrations"] == "error"
    assert response.json()["checks"]["database"] == "ok"


async def test_a_database_behind_the_head_is_503_and_ready_once_migrated(sqlite_file: str) -> None:
    await asyncio.to_thread(db_migrations.upgrade, sqlite_file)
    await asyncio.to_thread(db_migrations.downgrade, sqlite_file, "-1")
    async with client_of(database_url=sqlite_file) as http:
        behind = await http.get("/health")
        # Migrating while the server runs makes it ready, without a restart.
        await asyncio.to_thread(db_migrations.upgrade, sqlite_file)
        migrated = await http.get("/health")

    assert behind.status_code == 503
    assert behind.json()["checks"]["migrations"] == "error"
    assert migrated.status_code == 200, migrated.text
    assert migrated.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "redis": "disabled"},
    }


async def test_a_database_migrated_by_a_newer_version_stays_ready(sqlite_file: str) -> None:
    # During a deploy the new version migrates first; the old workers keep serving.
    await asyncio.to_thread(db_migrations.upgrade, sqlite_file)
    await set_revision(sqlite_file, "9999")
    async with client_of(database_url=sqlite_file) as http:
        response = await http.get("/health")

    assert response.status_code == 200, response.text
    assert response.json()["checks"]["migrations"] == "ok"


async def test_an_unreachable_database_is_503_and_migrations_unknown() -> None:
    async with client_of(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{CLOSED_PORT}/taskflow"
    ) as http:
        response = await http.get("/health")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "error",
        "migrations": "unknown",
        "redis": "disabled",
    }


async def test_an_unreachable_redis_is_200_degraded(database_url: str) -> None:
    async with client_of(
        database_url=database_url, redis_url=f"redis://127.0.0.1:{CLOSED_PORT}/0"
    ) as http:
        response = await http.get("/health")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "migrations": "ok", "redis": "degraded"},
    }
