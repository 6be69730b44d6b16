"""A failing Redis or database degrades the service instead of breaking it.

Outages are made with a TCP proxy between one app and the real server, so the servers the
other tests share keep running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy import make_url, select

from taskflow.config import Settings
from taskflow.core.metrics import REGISTRY
from taskflow.main import create_app
from taskflow.tasks.models import Task
from tests.factories import DomainFactory
from tests.support.proxy import TcpProxy
from tests.support.sql import statements


@asynccontextmanager
async def app_client(settings: Settings, **changes: Any) -> AsyncIterator[AsyncClient]:
    app = create_app(settings.model_copy(update=changes))
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    target = urlsplit(redis_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    yield proxy, f"redis://127.0.0.1:{proxy.port}{target.path}"
    await proxy.close()


@pytest.fixture
async def database_proxy(database_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield proxy, proxied
    await proxy.close()


def outages() -> float:
    """taskflow_redis_outages_total of this process."""
    return REGISTRY.get_sample_value("taskflow_redis_outages_total") or 0.0


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    return [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == name
    ]


# --- Redis --------------------------------------------------------------------------------


async def test_with_redis_unreachable_everything_works_and_one_warning_is_logged(
    settings: Settings, make: DomainFactory, caplog: pytest.LogCaptureFixture
) -> None:
    owner = await make()
    project = await make.project(owner)
    caplog.set_level(logging.WARNING, logger="taskflow.redis")
    # No rest between attempts: every request tries Redis again, and fails again.
    async with app_client(
        settings, redis_url="redis://127.0.0.1:1/0", redis_retry_seconds=0
    ) as client:
        headers = make.headers(owner)
        answers = [
            await client.get("/api/v1/projects", headers=headers),
            await client.get("/api/v1/projects", headers=headers),
            await client.post(
                "/api/v1/tasks", json={"title": "t", "project_id": project.id}, headers=headers
            ),
            await client.post(
                "/api/v1/projects",
                json={"name": "p"},
                headers={**headers, "Idempotency-Key": "k-1"},
            ),
            await client.get("/api/v1/tasks", headers=headers),
            await client.get("/api/v1/users/me", headers=headers),
        ]
    assert [a.status_code for a in answers] == [200, 200, 201, 201, 200, 200]
    assert answers[4].headers["X-Total-Count"] == "1"
    assert len(events(caplog, "redis_unavailable")) == 1


async def test_a_refused_connection_marks_redis_down_at_the_first_failure(
    settings: Settings, make: DomainFactory
) -> None:
    owner = await make()
    before = outages()
    async with app_client(
        settings, redis_url="redis://127.0.0.1:1/0", redis_retry_seconds=60
    ) as client:
        answer = await client.get("/api/v1/users/me", headers=make.headers(owner))
        guard = client.app.state.cache.guard  # type: ignore[attr-defined]
        assert guard.available is False
    assert answer.status_code == 200
    assert outages() - before == 1


async def test_answers_slower_than_the_old_budget_within_the_timeout_are_no_outage(
    settings: Settings,
    make: DomainFactory,
    redis_proxy: tuple[TcpProxy, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A healthy Redis answering a busy worker late (here 100 ms, twice the former 50 ms
    budget) is used, never marked down."""
    proxy, redis_url = redis_proxy
    owner = await make()
    await make.project(owner)
    headers = make.headers(owner)
    caplog.set_level(logging.WARNING, logger="taskflow.redis")
    defaults = {
        name: Settings.model_fields[name].default
        for name in ("redis_timeout_seconds", "redis_retry_seconds", "redis_failure_threshold")
        if name in Settings.model_fields
    }
    before = outages()
    proxy.answer_delay_seconds = 0.1
    async with app_client(settings, redis_url=redis_url, **defaults) as client:
        answers = [await client.get("/api/v1/projects", headers=headers) for _ in range(4)]
        with statements(client.app) as sql:  # type: ignore[attr-defined]
            cached = await client.get("/api/v1/projects", headers=headers)
    assert [a.status_code for a in answers] == [200] * 4
    assert outages() - before == 0
    assert events(caplog, "redis_unavailable") == []
    # Answered from Redis: it was used throughout, not skipped.
    assert cached.status_code == 200 and sql == []


async def test_a_stalled_redis_delays_no_request_beyond_its_timeout(
    settings: Settings,
    make: DomainFactory,
    redis_proxy: tuple[TcpProxy, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy, redis_url = redis_proxy
    owner = await make()
    await make.project(owner)
    caplog.set_level(logging.INFO, logger="taskflow.redis")
    async with app_client(
        settings, redis_url=redis_url, redis_retry_seconds=0, redis_timeout_seconds=0.05
    ) as client:
        headers = make.headers(owner)
        assert (await client.get("/api/v1/projects", headers=headers)).status_code == 200
        # Only the outage below is counted: a first connection that was slow to open on a
        # busy machine is not what this test is about.
        caplog.clear()
        proxy.pause()
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            answer = await client.get("/api/v1/projects", headers=headers)
            timings.append(time.perf_counter() - started)
            assert answer.status_code == 200
        proxy.resume()
        await client.get("/api/v1/projects", headers=headers)  # Redis answers again
        with statements(client.app) as sql:  # type: ignore[attr-defined]
            cached = await client.get("/api/v1/projects", headers=headers)
    # Each stalled request waits out one or two 50 ms Redis timeouts, not more.
    assert max(timings) < 1.0, timings
    assert cached.status_code == 200 and sql == []
    assert len(events(caplog, "redis_unavailable")) == 1
    assert len(events(caplog, "redis_recovered")) == 1


async def test_when_redis_fails_the_rate_limit_counts_in_memory_instead(
    settings: Settings, make: DomainFactory, redis_proxy: tuple[TcpProxy, str]
) -> None:
    proxy, redis_url = redis_proxy
    owner = await make()
    headers = make.headers(owner)
    async with app_client(
        settings, redis_url=redis_url, redis_retry_seconds=60, rate_limit_default="2/minute"
    ) as client:
        # Counted in Redis, in the round trip that fetches the caller.
        shared = await client.get("/api/v1/users/me", headers=headers)
        await proxy.cut()
        # The same round trip fails: the request is counted in this process instead.
        during = [await client.get("/api/v1/users/me", headers=headers) for _ in range(3)]
    assert shared.headers["X-RateLimit-Remaining"] == "1"
    assert [a.status_code for a in during] == [200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in during] == ["1", "0", "0"]


async def test_writes_during_a_redis_outage_do_not_leave_stale_answers_after_it(
    settings: Settings, make: DomainFactory, redis_proxy: tuple[TcpProxy, str]
) -> None:
    proxy, redis_url = redis_proxy
    owner = await make()
    project = await make.project(owner)
    task = await make.task(project, title="before")
    async with app_client(settings, redis_url=redis_url, redis_retry_seconds=0) as client:
        headers = make.headers(owner)
        assert (await client.get("/api/v1/tasks", headers=headers)).json()[0]["title"] == "before"
        await proxy.cut()
        changed = await client.patch(
            f"/api/v1/tasks/{task.id}", json={"title": "after"}, headers=headers
        )
        assert changed.status_code == 200
        await proxy.restore()
        listed = await client.get("/api/v1/tasks", headers=headers)
    assert listed.json()[0]["title"] == "after"


# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.mark.postgres
async def test_a_database_outage_answers_503_quickly_and_the_service_recovers_alone(
    settings: Settings,
    make: DomainFactory,
    database_proxy: tuple[TcpProxy, str],
    sessionmaker: Any,
) -> None:
    proxy, database_url = database_proxy
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    async with app_client(settings, database_url=database_url) as client:
        before = await client.post(
            "/api/v1/tasks", json={"title": "kept", "project_id": project.id}, headers=headers
        )
        assert before.status_code == 201

        await proxy.cut()
        started = time.perf_counter()
        read = await client.get("/api/v1/tasks", headers=headers)
        write = await client.post(
            "/api/v1/tasks", json={"title": "lost", "project_id": project.id}, headers=headers
        )
        health = await client.get("/health")
        elapsed = time.perf_counter() - started

        await proxy.restore()
        after = await client.get("/api/v1/tasks", headers=headers)
        health_after = await client.get("/health")

    for answer in (read, write):
        assert answer.status_code == 503
        assert answer.json()["error"] == "service_unavailable"
        assert answer.headers["Retry-After"]
    assert health.status_code == 503
    assert health.json()["checks"]["database"] == "error"
    assert elapsed < 10
    assert after.status_code == 200
    assert [t["title"] for t in after.json()] == ["kept"]
    assert health_after.status_code == 200
    async with sessionmaker() as session:
        titles = set(await session.scalars(select(Task.title)))
    assert titles == {"kept"}


@pytest.mark.postgres
async def test_pooled_connections_the_database_closed_are_replaced_without_a_failed_request(
    settings: Settings, make: DomainFactory, database_proxy: tuple[TcpProxy, str]
) -> None:
    proxy, database_url = database_proxy
    owner = await make()
    await make.project(owner)
    headers = make.headers(owner)
    async with app_client(settings, database_url=database_url) as client:
        # Two requests at once leave two connections idle in the pool.
        first = await asyncio.gather(
            *(client.get("/api/v1/projects", headers=headers) for _ in range(2))
        )
        assert [answer.status_code for answer in first] == [200, 200]
        await proxy.cut()  # the server restarts: every pooled connection is closed
        await proxy.restore()
        after = [(await client.get("/api/v1/projects", headers=headers)) for _ in range(3)]
    assert [answer.status_code for answer in after] == [200, 200, 200]
    assert [len(answer.json()) for answer in after] == [1, 1, 1]


@pytest.mark.postgres
async def test_a_stalled_database_answers_503_within_the_command_timeout(
    settings: Settings, make: DomainFactory, database_proxy: tuple[TcpProxy, str]
) -> None:
    proxy, database_url = database_proxy
    owner = await make()
    await make.project(owner)
    headers = make.headers(owner)
    async with app_client(
        settings,
        database_url=database_url,
        db_command_timeout_seconds=1,
        db_connect_timeout_seconds=1,
        db_pool_timeout_seconds=1,
    ) as client:
        assert (await client.get("/api/v1/projects", headers=headers)).status_code == 200
        proxy.pause()
        started = time.perf_counter()
        stalled = await client.get("/api/v1/projects", headers=headers)
        elapsed = time.perf_counter() - started
        proxy.resume()
        await proxy.cut()  # drop the stalled connections, as a restarted server would
        await proxy.restore()
        recovered = await client.get("/api/v1/projects", headers=headers)
    assert stalled.status_code == 503
    assert elapsed < 5, elapsed
    assert recovered.status_code == 200
