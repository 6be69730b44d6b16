"""Task writes. A create is one statement and a change two (a read, then the write): on
PostgreSQL they run without a transaction, so they cost no BEGIN and COMMIT round trips,
unless the request already holds one, and the write's activity event is part of the write's
own statement. A change lands only on the version it read; a move keeps an assignee who
belongs to the target project."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import event, text, update
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from taskflow.core.errors import PreconditionFailed
from taskflow.identity.principal import Principal
from taskflow.tasks import service as tasks_service
from taskflow.tasks.models import Task
from taskflow.users.models import User
from tests.factories import DomainFactory
from tests.support.activity import stored_events
from tests.support.sql import statements_in_transaction

# The tests that are not about PostgreSQL itself run on the embedded SQLite too.
on_both_databases = pytest.mark.parametrize("database_url", ["postgresql", "sqlite"], indirect=True)

TASKS = "/api/v1/tasks"


@pytest.mark.postgres
@pytest.mark.settings(redis_url="from-fixture")
async def test_a_task_create_and_change_run_each_statement_alone_with_its_event(
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
        ("SELECT", False),  # its place: the first status not done and its last rank key
        ("WITH", False),  # the INSERT, which checks the caller's access itself, and its event
        ("SELECT", False),  # the task, as the caller sees it
        ("WITH", False),  # the UPDATE and its event
    ]
    history = await client.get(f"{TASKS}/{created.json()['id']}/activity", headers=headers)
    assert [event["type"] for event in history.json()] == ["task.updated", "task.created"]
    assert history.json()[0]["changes"]["priority"][1] == 1


@pytest.mark.postgres
@pytest.mark.settings(redis_url="from-fixture")
async def test_a_change_that_lost_a_race_lands_under_the_lock_with_its_event_in_one_statement(
    app: FastAPI, client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    # Priority 3, changed to 1: a change a reader sees, so it has an event.
    task = await make.task(await make.project(owner), title="Contended", priority=3)
    headers = make.headers(owner)
    await client.get("/api/v1/users/me", headers=headers)  # the caller is cached
    engine = app.state.database.engine.sync_engine
    raced: list[str] = []

    def another_change_lands_first(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Right before the first write: another request's change of the task commits.
        if statement.startswith("WITH") and not raced:
            raced.append(statement)
            conn.execute(
                text("UPDATE tasks SET version = version + 1 WHERE id = :id"), {"id": task.id}
            )

    event.listen(engine, "before_cursor_execute", another_change_lands_first)
    try:
        with statements_in_transaction(app) as statements:
            changed = await client.patch(
                f"{TASKS}/{task.id}", json={"priority": 1}, headers=headers
            )
    finally:
        event.remove(engine, "before_cursor_execute", another_change_lands_first)

    assert changed.status_code == 200, changed.text
    assert changed.json()["priority"] == 1
    assert statements == [
        ("SELECT", False),  # the task, as the caller sees it
        ("UPDATE", False),  # (the other change)
        ("WITH", False),  # the change, which finds another version: nothing written
        ("SELECT", True),  # the task row locked
        ("SELECT", True),  # read again, as the change before left it
        ("WITH", True),  # the UPDATE and its event, in one statement under the lock
    ]
    history = await client.get(f"{TASKS}/{task.id}/activity", headers=headers)
    # One event: the attempt that found another version wrote none.
    assert [event["type"] for event in history.json()] == ["task.updated"]


@pytest.mark.postgres
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
    assert ("INSERT", True) in statements, statements  # the key
    assert ("WITH", True) in statements, statements  # the task and its event
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


@pytest.mark.postgres
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


@on_both_databases
async def test_a_change_to_a_task_changed_since_it_was_read_is_412_and_writes_nothing(
    make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # The task is read, then the row changes before the change is written.
    owner = await make()
    task = await make.task(await make.project(owner), title="Original")
    async with sessionmaker() as session:
        principal = Principal(user=await session.get_one(User, owner.id))
        read = await tasks_service.read_task_to_write(
            session=session, principal=principal, task_id=task.id
        )
    async with sessionmaker() as other:
        await other.execute(
            update(Task).where(Task.id == task.id).values(title="Meanwhile", version=2)
        )
        await other.commit()

    async with sessionmaker() as session:
        with pytest.raises(PreconditionFailed) as refused:
            await tasks_service._apply_change(session, principal, read, {"title": "Stale"}, None)
        await session.commit()

    assert refused.value.detail == "The resource was changed by another request; read it again"
    async with sessionmaker() as session:
        stored = await session.get_one(Task, task.id)
    assert (stored.title, stored.version) == ("Meanwhile", 2)
    # ... nor its activity event, written in the same statement or transaction.
    assert await stored_events(sessionmaker, task_id=task.id) == []


@on_both_databases
async def test_a_move_keeps_a_deactivated_assignee_who_is_a_member_of_the_target_project(
    client: AsyncClient, make: DomainFactory
) -> None:
    # A move keeps an assignment rather than making one, as deactivating a user keeps its
    # assignments: only a new assignment needs an active user.
    owner, gone = await make(), await make()
    source, target = await make.project(owner), await make.project(owner)
    await make.member(source, gone)
    await make.member(target, gone)
    task = await make.task(source, assignee_id=gone.id)
    async with make.sessionmaker() as session:
        await session.execute(update(User).where(User.id == gone.id).values(is_active=False))
        await session.commit()

    moved = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(owner)
    )

    assert moved.status_code == 200, moved.text
    assert (moved.json()["project"]["id"], moved.json()["assignee"]["id"]) == (target.id, gone.id)
    assert moved.headers["ETag"] == '"2"'
