"""A task create is one statement and a change two (a read, then the write): they run
without a transaction, so they cost no BEGIN and COMMIT round trips, unless the request
already holds one."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.factories import DomainFactory
from tests.support.sql import statements_in_transaction

pytestmark = pytest.mark.postgres

TASKS = "/api/v1/tasks"


@pytest.mark.settings(redis_url="from-fixture")
async def test_a_task_create_and_change_run_each_statement_alone(
    app: FastAPI, client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    await client.get("/api/v1/users/me", headers=headers)  # the caller is cached

    with statements_in_transaction(app) as statements:
        created = await client.post(
            TASKS, json={"title": "Alone", "project_id": project.id}, headers=headers
        )
        changed = await client.patch(
            f"{TASKS}/{created.json()['id']}", json={"priority": 1}, headers=headers
        )

    assert (created.status_code, changed.status_code) == (201, 200), changed.text
    assert statements == [
        ("INSERT", False),  # which checks the caller's access itself
        ("SELECT", False),  # the task, as the caller sees it
        ("UPDATE", False),
    ]


async def test_a_task_create_joins_the_transaction_of_its_idempotency_key(
    app: FastAPI, client: AsyncClient, make: DomainFactory
) -> None:
    # Without Redis the Idempotency-Key is kept in the database, in the request's
    # transaction (begun before the task is written): the task must commit with it.
    owner = await make()
    project = await make.project(owner)
    headers = {**make.headers(owner), "Idempotency-Key": "joins-1"}

    with statements_in_transaction(app) as statements:
        created = await client.post(
            TASKS, json={"title": "Together", "project_id": project.id}, headers=headers
        )

    assert created.status_code == 201, created.text
    assert ("INSERT", True) in statements, statements
    assert all(inside for _, inside in statements), statements


async def until_another_session_waits_for_a_lock(watcher: AsyncConnection) -> None:
    """Poll PostgreSQL until a session of this database waits for a lock."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    for _ in range(1000):
        if await watcher.scalar(waiting):
            return
        await asyncio.sleep(0.01)  # another process's state: nothing in the app to wait on
    raise AssertionError("no session waited for a lock")


async def test_a_write_chosen_as_a_deadlock_victim_answers_409(
    app: FastAPI, client: AsyncClient, make: DomainFactory
) -> None:
    # The change's UPDATE holds the task and waits for the new assignee's row (its foreign
    # key check); another transaction holds that row and then waits for the task.
    owner, helper = await make(), await make()
    project = await make.project(owner)
    await make.member(project, helper)
    task = await make.task(project)
    # Connections of their own, so the request's pool has all of its own.
    engine = create_async_engine(app.state.database.engine.url)
    async with engine.connect() as other, engine.connect() as watcher:
        await other.begin()
        # Only the request's side looks for the deadlock in time, so it is the one cancelled.
        await other.execute(text("SET LOCAL deadlock_timeout = '30s'"))
        await other.execute(
            text("SELECT id FROM users WHERE id = :id FOR UPDATE"), {"id": helper.id}
        )
        change = asyncio.create_task(
            client.patch(
                f"{TASKS}/{task.id}", json={"assignee_id": helper.id}, headers=make.headers(owner)
            )
        )
        await until_another_session_waits_for_a_lock(watcher)
        await other.execute(text("SELECT id FROM tasks WHERE id = :id FOR UPDATE"), {"id": task.id})
        answer = await change
        await other.rollback()
    await engine.dispose()

    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "conflict"
    stored = await client.get(f"{TASKS}/{task.id}", headers=make.headers(owner))
    assert stored.json()["assignee"] is None
