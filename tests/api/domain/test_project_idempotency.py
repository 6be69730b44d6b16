"""Idempotency-Key on POST /api/v1/projects, with the database store and the Redis store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi import FastAPI
from httpx import AsyncClient, Response
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.core.idempotency import IdempotencyRecord
from taskflow.projects.models import Project
from taskflow.users.models import User
from tests.factories import DomainFactory
from tests.support.projects import PROJECTS

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


@pytest.fixture(
    params=[
        "database",
        pytest.param("redis", marks=pytest.mark.settings(redis_url="from-fixture")),
    ]
)
def store(request: pytest.FixtureRequest, app: FastAPI) -> str:
    """Which store keeps the keys; every test here runs with each."""
    name: str = request.param
    assert (app.state.redis is not None) == (name == "redis")
    return name


# --- helpers -------------------------------------------------------------------------------


def with_key(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def project_rows(
    sessionmaker: async_sessionmaker[AsyncSession], owner: User | None = None
) -> list[Project]:
    async with sessionmaker() as session:
        query = select(Project).order_by(Project.id)
        if owner is not None:
            query = query.where(Project.owner_id == owner.id)
        return list(await session.scalars(query))


async def key_records(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(IdempotencyRecord))
        return count or 0


def assert_replay_of(first: Response, again: Response) -> None:
    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert "Idempotent-Replayed" not in first.headers


# --- replay --------------------------------------------------------------------------------


async def test_same_key_and_body_replays_the_first_response_without_a_second_row(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: str,
) -> None:
    user = await make()
    headers = with_key(make.headers(user), "create-launch-1")
    body = {"name": "Launch", "description": "Once only"}

    first = await client.post(PROJECTS, json=body, headers=headers)
    again = await client.post(PROJECTS, json=body, headers=headers)

    assert_replay_of(first, again)
    assert again.json()["id"] == first.json()["id"]
    rows = await project_rows(sessionmaker)
    assert [row.id for row in rows] == [first.json()["id"]]
    # The key lives in the store under test, and only there.
    assert await key_records(sessionmaker) == (1 if store == "database" else 0)


async def test_equivalent_body_after_validation_replays(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: str,
) -> None:
    user = await make()
    headers = with_key(make.headers(user), "same-after-trim")

    first = await client.post(PROJECTS, json={"name": "a"}, headers=headers)
    again = await client.post(PROJECTS, json={"name": "  a ", "description": None}, headers=headers)

    assert_replay_of(first, again)
    assert len(await project_rows(sessionmaker)) == 1


async def test_without_a_key_each_post_creates_a_project(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: str,
) -> None:
    user = await make()
    headers = make.headers(user)

    first = await client.post(PROJECTS, json={"name": "Twin"}, headers=headers)
    second = await client.post(PROJECTS, json={"name": "Twin"}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert "Idempotent-Replayed" not in second.headers
    assert len(await project_rows(sessionmaker)) == 2


async def test_different_keys_create_different_projects(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: str,
) -> None:
    user = await make()
    body = {"name": "Same body"}

    first = await client.post(PROJECTS, json=body, headers=with_key(make.headers(user), "k-1"))
    second = await client.post(PROJECTS, json=body, headers=with_key(make.headers(user), "k-2"))

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert len(await project_rows(sessionmaker)) == 2


@pytest.mark.parametrize(
    "other_body",
    [{"name": "Other"}, {"name": "Launch", "description": "changed"}],
    ids=["name", "description"],
)
async def test_same_key_with_a_different_body_answers_422(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: str,
    other_body: dict[str, Any],
) -> None:
    user = await make()
    headers = with_key(make.headers(user), "reused-key")

    first = await client.post(PROJECTS, json={"name": "Launch"}, headers=headers)
    reused = await client.post(PROJECTS, json=other_body, headers=headers)

    assert first.status_code == 201, first.text
    assert reused.status_code == 422, reused.text
    assert reused.json()["error"] == "validation_error"
    assert [item["loc"] for item in reused.json()["detail"]] == [["header", "Idempotency-Key"]]
    rows = await project_rows(sessionmaker)
    assert [(row.id, row.name) for row in rows] == [(first.json()["id"], "Launch")]


async def test_same_key_from_another_user_creates_its_own_project(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: str,
) -> None:
    alice, bob = await make(), await make()
    body = {"name": "Shared key name"}

    mine = await client.post(PROJECTS, json=body, headers=with_key(make.headers(alice), "k"))
    theirs = await client.post(PROJECTS, json=body, headers=with_key(make.headers(bob), "k"))

    assert mine.status_code == theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]
    assert theirs.json()["owner"]["id"] == bob.id
    assert mine.json()["owner"]["id"] == alice.id
    assert "Idempotent-Replayed" not in theirs.headers
    assert [row.id for row in await project_rows(sessionmaker, bob)] == [theirs.json()["id"]]
    assert [row.id for row in await project_rows(sessionmaker, alice)] == [mine.json()["id"]]


async def test_another_users_different_body_with_my_key_is_not_refused(
    client: AsyncClient, make: DomainFactory, store: str
) -> None:
    alice, bob = await make(), await make()

    mine = await client.post(
        PROJECTS, json={"name": "Alice"}, headers=with_key(make.headers(alice), "k")
    )
    theirs = await client.post(
        PROJECTS, json={"name": "Bob"}, headers=with_key(make.headers(bob), "k")
    )

    assert mine.status_code == 201, mine.text
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["name"] == "Bob"


async def test_a_failed_request_does_not_spend_the_key(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: str,
) -> None:
    user = await make()
    headers = with_key(make.headers(user), "retry-me")
    refused = await client.post(PROJECTS, json={"name": " "}, headers=headers)

    created = await client.post(PROJECTS, json={"name": "Valid now"}, headers=headers)

    assert refused.status_code == 422, refused.text
    assert created.status_code == 201, created.text
    assert "Idempotent-Replayed" not in created.headers
    assert len(await project_rows(sessionmaker)) == 1


async def test_concurrent_twins_create_one_project(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: str,
) -> None:
    user = await make()
    headers = with_key(make.headers(user), "double-click")
    body = {"name": "Clicked twice"}

    responses = await asyncio.gather(
        client.post(PROJECTS, json=body, headers=headers),
        client.post(PROJECTS, json=body, headers=headers),
    )

    rows = await project_rows(sessionmaker)
    assert len(rows) == 1
    for response in responses:
        if response.status_code == 201:
            assert response.json()["id"] == rows[0].id
        else:
            # The Redis store refuses a twin while the first is still running.
            assert response.status_code == 409, response.text
            assert response.json()["error"] == "idempotency_in_progress"
    assert any(response.status_code == 201 for response in responses)


async def test_key_longer_than_255_characters_answers_422(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: str,
) -> None:
    user = await make()

    response = await client.post(
        PROJECTS, json={"name": "x"}, headers=with_key(make.headers(user), "k" * 256)
    )

    assert response.status_code == 422, response.text
    assert ["header", "idempotency-key"] in [
        [str(part).lower() for part in item["loc"]] for item in response.json()["detail"]
    ]
    assert await project_rows(sessionmaker) == []


# --- expiry --------------------------------------------------------------------------------


async def test_database_key_is_forgotten_after_24_hours(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await make()
    body = {"name": "Daily"}

    def headers() -> dict[str, str]:
        # Access tokens last minutes: mint one at each moment the test travels to.
        return with_key(make.headers(user), "daily")

    with time_machine.travel(T0, tick=False):
        first = await client.post(PROJECTS, json=body, headers=headers())
    with time_machine.travel(T0 + DAY - timedelta(seconds=1), tick=False):
        within = await client.post(PROJECTS, json=body, headers=headers())
    with time_machine.travel(T0 + DAY + timedelta(seconds=1), tick=False):
        after = await client.post(PROJECTS, json=body, headers=headers())
        after_other_body = await client.post(PROJECTS, json={"name": "Other"}, headers=headers())

    assert_replay_of(first, within)
    assert after.status_code == 201, after.text
    assert after.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in after.headers
    # The new request holds the key now: a different body is refused again.
    assert after_other_body.status_code == 422, after_other_body.text
    assert len(await project_rows(sessionmaker)) == 2


@pytest.mark.settings(redis_url="from-fixture")
async def test_redis_key_is_kept_for_24_hours(
    client: AsyncClient, make: DomainFactory, app: FastAPI
) -> None:
    # Redis expires keys by its own clock, which time-machine cannot move: check the TTL.
    user = await make()
    key = "daily-redis"

    first = await client.post(
        PROJECTS, json={"name": "Daily"}, headers=with_key(make.headers(user), key)
    )

    assert first.status_code == 201, first.text
    redis: Redis = app.state.redis
    [stored] = await redis.keys(f"{app.state.settings.redis_key_prefix}:idempotency:*")
    ttl = await redis.ttl(stored)
    assert DAY.total_seconds() - 60 < ttl <= DAY.total_seconds()
