"""Details of the Redis read cache: what a cached answer looks like, how long entries live,
what keys an answer is cached under, and what a write does and does not retire."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from taskflow.config import Settings
from taskflow.core.cache import GENERATION_TTL_SECONDS
from taskflow.core.metrics import CACHE_HITS, CACHE_MISSES
from taskflow.main import create_app
from tests.conftest import redis_key_prefix
from tests.factories import DomainFactory
from tests.support.proxy import TcpProxy
from tests.support.sql import statements

pytestmark = pytest.mark.settings(redis_url="from-fixture")


async def test_answers_are_json_whether_built_or_taken_from_the_cache(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    for url in ("/api/v1/projects", f"/api/v1/projects/{project.id}"):
        built = await client.get(url, headers=make.headers(owner))
        cached = await client.get(url, headers=make.headers(owner))
        assert built.status_code == cached.status_code == 200
        assert built.headers["content-type"] == "application/json"
        assert cached.headers["content-type"] == "application/json"


async def test_the_first_read_is_counted_a_miss_and_the_second_a_hit(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    await make.project(owner)
    hits, misses = CACHE_HITS._value.get(), CACHE_MISSES._value.get()

    await client.get("/api/v1/projects", headers=make.headers(owner))
    assert (CACHE_HITS._value.get(), CACHE_MISSES._value.get()) == (hits, misses + 1)

    await client.get("/api/v1/projects", headers=make.headers(owner))
    assert (CACHE_HITS._value.get(), CACHE_MISSES._value.get()) == (hits + 1, misses + 1)


async def test_nothing_the_cache_writes_to_redis_lives_forever(
    app: FastAPI, client: AsyncClient, settings: Settings, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    await client.get("/api/v1/projects", headers=make.headers(owner))
    await client.patch(
        f"/api/v1/projects/{project.id}", json={"name": "renamed"}, headers=make.headers(owner)
    )
    await client.get(f"/api/v1/projects/{project.id}", headers=make.headers(owner))

    redis = app.state.redis
    keys = [key async for key in redis.scan_iter(match=f"{redis_key_prefix()}:*")]
    assert keys
    longest = max(settings.cache_ttl_seconds, GENERATION_TTL_SECONDS)
    for key in keys:
        assert 0 < await redis.ttl(key) <= longest, key


async def test_answers_for_different_hosts_are_cached_apart(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    await make.tasks(await make.project(owner), 2)
    url = "/api/v1/tasks?limit=1"

    first = await client.get(url, headers={**make.headers(owner), "Host": "one.example"})
    second = await client.get(url, headers={**make.headers(owner), "Host": "two.example"})

    assert "//one.example/" in first.headers["Link"]
    assert "//two.example/" in second.headers["Link"]


async def test_changes_to_another_project_and_user_leave_cached_reads_in_place(
    app: FastAPI, client: AsyncClient, make: DomainFactory
) -> None:
    reader, other, helper = await make(), await make(), await make()
    mine, theirs = await make.project(reader), await make.project(other)
    # Others take part in the reader's project; only `other` changes, elsewhere.
    await make.member(mine, helper, "editor")
    await make.task(mine, created_by=reader, assignee_id=helper.id)
    url = f"/api/v1/projects/{mine.id}"
    assert (await client.get(url, headers=make.headers(reader))).status_code == 200

    changed = await client.patch(
        f"/api/v1/projects/{theirs.id}", json={"name": "theirs"}, headers=make.headers(other)
    )
    assert changed.status_code == 200
    renamed = await client.patch(
        "/api/v1/users/me", json={"full_name": "Someone Else"}, headers=make.headers(other)
    )
    assert renamed.status_code == 200

    with statements(app) as sql:
        again = await client.get(url, headers=make.headers(reader))
    assert again.status_code == 200
    assert sql == []


async def test_a_renamed_owner_is_read_in_its_project(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, viewer = await make(full_name="Old Name"), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")
    url = f"/api/v1/projects/{project.id}"
    assert (await client.get(url, headers=make.headers(viewer))).status_code == 200

    await client.patch(
        "/api/v1/users/me", json={"full_name": "New Name"}, headers=make.headers(owner)
    )

    read = await client.get(url, headers=make.headers(viewer))
    assert read.json()["owner"]["full_name"] == "New Name"


async def test_a_renamed_creator_who_left_is_read_in_the_tasks_it_created(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, creator = await make(), await make(full_name="Old Name")
    project = await make.project(owner)
    await make.member(project, creator, "editor")
    task = await make.task(project, created_by=creator)
    left = await client.delete(
        f"/api/v1/projects/{project.id}/members/{creator.id}", headers=make.headers(creator)
    )
    assert left.status_code == 204
    url = f"/api/v1/tasks/{task.id}"
    assert (await client.get(url, headers=make.headers(owner))).status_code == 200

    await client.patch(
        "/api/v1/users/me", json={"full_name": "New Name"}, headers=make.headers(creator)
    )

    read = await client.get(url, headers=make.headers(owner))
    assert read.json()["created_by"]["full_name"] == "New Name"


async def test_removing_a_member_is_read_at_once_in_the_tasks_it_was_assigned(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "editor")
    task = await make.task(project, assignee_id=member.id)
    url = f"/api/v1/tasks/{task.id}"
    assert (await client.get(url, headers=make.headers(owner))).json()["assignee"] is not None

    removed = await client.delete(
        f"/api/v1/projects/{project.id}/members/{member.id}", headers=make.headers(owner)
    )
    assert removed.status_code == 204

    assert (await client.get(url, headers=make.headers(owner))).json()["assignee"] is None


# --- a Redis outage -------------------------------------------------------------------------


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    target = urlsplit(redis_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    yield proxy, f"redis://127.0.0.1:{proxy.port}{target.path}"
    await proxy.close()


@asynccontextmanager
async def app_on(settings: Settings, redis_url: str) -> AsyncIterator[tuple[FastAPI, AsyncClient]]:
    app = create_app(settings.model_copy(update={"redis_url": redis_url, "redis_retry_seconds": 0}))
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client,
    ):
        yield app, client


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    return [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == name
    ]


async def test_writes_during_an_outage_bump_the_epoch_once_redis_is_back(
    settings: Settings,
    make: DomainFactory,
    redis_proxy: tuple[TcpProxy, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy, redis_url = redis_proxy
    caplog.set_level(logging.INFO, logger="taskflow.cache")
    owner = await make()
    project = await make.project(owner)
    async with app_on(settings, redis_url) as (app, client):
        headers = make.headers(owner)
        await proxy.cut()
        changed = await client.patch(
            f"/api/v1/projects/{project.id}", json={"name": "during"}, headers=headers
        )
        assert changed.status_code == 200
        await proxy.restore()
        await client.get("/api/v1/projects", headers=headers)

        assert await app.state.redis.get(app.state.cache.epoch) in (b"1", "1")
        # With the epoch settled, the cache works again: the next read is a hit.
        with statements(app) as sql:
            again = await client.get("/api/v1/projects", headers=headers)
    assert again.json()[0]["name"] == "during"
    assert sql == []
    bumped = events(caplog, "cache_epoch_bumped")
    assert [event.get("reason") for event in bumped] == ["writes during a Redis outage"]
