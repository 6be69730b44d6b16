"""Idempotency-Key on task creation: replays, conflicting bodies and keys per user."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.core.idempotency import IdempotencyRecord
from taskflow.users.models import User
from tests.factories import DomainFactory
from tests.support.api import assert_error, error_locs
from tests.support.tasks import TASKS, count_tasks

# --- Idempotency-Key -----------------------------------------------------------------------


async def stored_idempotency_keys(
    sessionmaker: async_sessionmaker[AsyncSession], user: User
) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).select_from(IdempotencyRecord).filter_by(user_id=user.id)
        return int(await session.scalar(query) or 0)


async def _replays_the_first_create(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    in_redis: bool,
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = {**make.headers(owner), "Idempotency-Key": "create-task-1"}
    body = {"title": "Once", "project_id": project.id}

    first = await client.post(TASKS, json=body, headers=headers)
    again = await client.post(
        TASKS, json={"title": "  Once ", "project_id": project.id, "priority": 3}, headers=headers
    )

    assert first.status_code == again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert await count_tasks(sessionmaker, project_id=project.id) == 1
    assert await stored_idempotency_keys(sessionmaker, owner) == (0 if in_redis else 1)


async def _refuses_the_key_with_another_body(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = {**make.headers(owner), "Idempotency-Key": "create-task-2"}
    first = await client.post(TASKS, json={"title": "A", "project_id": project.id}, headers=headers)

    other = await client.post(TASKS, json={"title": "B", "project_id": project.id}, headers=headers)

    assert first.status_code == 201
    assert error_locs(other) == [["header", "Idempotency-Key"]]
    assert await count_tasks(sessionmaker, project_id=project.id) == 1


async def _keeps_keys_per_user(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, editor = await make(), await make()
    project = await make.project(owner)
    await make.member(project, editor, "editor")
    body = {"title": "Same", "project_id": project.id}

    mine = await client.post(
        TASKS, json=body, headers={**make.headers(owner), "Idempotency-Key": "shared"}
    )
    theirs = await client.post(
        TASKS, json=body, headers={**make.headers(editor), "Idempotency-Key": "shared"}
    )

    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["created_by"]["id"] == editor.id
    assert await count_tasks(sessionmaker, project_id=project.id) == 2


async def test_idempotency_key_replays_the_first_create_in_the_database_store(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _replays_the_first_create(client, make, sessionmaker, in_redis=False)


async def test_idempotency_key_with_another_body_is_422_in_the_database_store(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _refuses_the_key_with_another_body(client, make, sessionmaker)


async def test_idempotency_keys_are_per_user_in_the_database_store(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _keeps_keys_per_user(client, make, sessionmaker)


@pytest.mark.settings(redis_url="from-fixture")
async def test_idempotency_key_replays_the_first_create_in_the_redis_store(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _replays_the_first_create(client, make, sessionmaker, in_redis=True)


@pytest.mark.settings(redis_url="from-fixture")
async def test_idempotency_key_with_another_body_is_422_in_the_redis_store(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _refuses_the_key_with_another_body(client, make, sessionmaker)


@pytest.mark.settings(redis_url="from-fixture")
async def test_idempotency_keys_are_per_user_in_the_redis_store(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _keeps_keys_per_user(client, make, sessionmaker)


@pytest.mark.parametrize(
    "store",
    [
        "database",
        pytest.param("redis", marks=pytest.mark.settings(redis_url="from-fixture")),
    ],
)
async def test_a_failed_create_does_not_spend_its_idempotency_key(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    app: FastAPI,
    store: str,
) -> None:
    assert (app.state.redis is not None) == (store == "redis")
    owner = await make()
    project = await make.project(owner, is_archived=True)
    headers = {**make.headers(owner), "Idempotency-Key": "retry-after-unarchive"}
    body = {"title": "Later", "project_id": project.id}
    refused = await client.post(TASKS, json=body, headers=headers)
    unarchived = await client.patch(
        f"/api/v1/projects/{project.id}", json={"is_archived": False}, headers=make.headers(owner)
    )

    retried = await client.post(TASKS, json=body, headers=headers)

    assert_error(refused, 409, "project_archived")
    assert unarchived.status_code == 200, unarchived.text
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    assert await count_tasks(sessionmaker, project_id=project.id) == 1
