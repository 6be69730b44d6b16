"""Changing many tasks in one request: what POST /api/v1/tasks/bulk-update changes, in a
bounded number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support import sql
from tests.support.api import assert_error, parse_time
from tests.support.tasks import TASKS, bulk, snapshots

# --- bulk-update: the changes ----------------------------------------------------------------


async def test_bulk_update_changes_every_task_and_returns_the_count(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, editor = await make(), await make()
    project = await make.project(owner)
    await make.member(project, editor, "editor")
    tasks = await make.tasks(project, 3, priority=1)
    due = datetime(2031, 7, 1, 9, 30, tzinfo=UTC)

    response = await bulk(
        client,
        make.headers(editor),
        [t.id for t in tasks],
        priority=5,
        assignee_id=editor.id,
        due_date="2031-07-01T09:30:00Z",
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"updated_count": 3}
    stored = await snapshots(sessionmaker, [t.id for t in tasks])
    assert {(s.priority, s.assignee_id, s.due_date) for s in stored.values()} == {
        (5, editor.id, due)
    }


async def test_bulk_update_leaves_fields_not_given_and_other_tasks_alone(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=4)
    target = await make.task(project, priority=1, due_date=due, assignee_id=owner.id)
    bystander = await make.task(project, priority=1)

    response = await bulk(client, make.headers(owner), [target.id], priority=4)

    assert response.status_code == 200, response.text
    stored = await snapshots(sessionmaker, [target.id, bystander.id])
    assert (stored[target.id].priority, stored[target.id].due_date) == (4, due)
    assert stored[target.id].assignee_id == owner.id
    assert (stored[bystander.id].priority, stored[bystander.id].version) == (1, 1)


async def test_bulk_update_clears_assignee_and_due_date_with_null(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    tasks = await make.tasks(
        project, 2, assignee_id=owner.id, due_date=datetime.now(UTC) + timedelta(days=1)
    )

    response = await bulk(
        client, make.headers(owner), [t.id for t in tasks], assignee_id=None, due_date=None
    )

    assert response.status_code == 200, response.text
    stored = await snapshots(sessionmaker, [t.id for t in tasks])
    assert {(s.assignee_id, s.due_date) for s in stored.values()} == {(None, None)}


async def test_bulk_update_counts_repeated_ids_once(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    first, second = await make.tasks(await make.project(owner), 2)

    response = await bulk(
        client, make.headers(owner), [first.id, second.id, first.id, first.id], priority=2
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"updated_count": 2}


async def test_bulk_completing_stamps_open_tasks_and_keeps_the_time_of_done_ones(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    done_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    open_task = await make.task(project)
    done_task = await make.task(project, is_completed=True, completed_at=done_at)
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)

    with time_machine.travel(moment, tick=False):
        response = await bulk(
            client, make.headers(owner), [open_task.id, done_task.id], is_completed=True
        )

    assert response.status_code == 200, response.text
    stored = await snapshots(sessionmaker, [open_task.id, done_task.id])
    assert (stored[open_task.id].is_completed, stored[open_task.id].completed_at) == (
        True,
        moment,
    )
    assert (stored[done_task.id].is_completed, stored[done_task.id].completed_at) == (
        True,
        done_at,
    )
    got = await client.get(f"{TASKS}/{open_task.id}", headers=make.headers(owner))
    assert parse_time(got.json()["completed_at"]) == moment


async def test_bulk_reopening_clears_completed_at(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    tasks = await make.tasks(
        await make.project(owner), 2, is_completed=True, completed_at=datetime.now(UTC)
    )

    response = await bulk(client, make.headers(owner), [t.id for t in tasks], is_completed=False)

    assert response.status_code == 200, response.text
    stored = await snapshots(sessionmaker, [t.id for t in tasks])
    assert {(s.is_completed, s.completed_at) for s in stored.values()} == {(False, None)}


async def test_bulk_update_bumps_each_version_so_etags_change(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    first, second = await make.tasks(await make.project(owner), 2)
    headers = make.headers(owner)
    before = [
        (await client.get(f"{TASKS}/{t.id}", headers=headers)).headers["ETag"]
        for t in (first, second)
    ]

    response = await bulk(client, headers, [first.id, second.id], priority=1)
    stale = await client.patch(
        f"{TASKS}/{first.id}", json={"title": "x"}, headers={**headers, "If-Match": before[0]}
    )

    assert response.status_code == 200, response.text
    after = [
        (await client.get(f"{TASKS}/{t.id}", headers=headers)).headers["ETag"]
        for t in (first, second)
    ]
    assert before == ['"1"', '"1"']
    assert after == ['"2"', '"2"']
    assert_error(stale, 412, "precondition_failed")


async def test_bulk_update_moves_updated_at(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    long_ago = datetime.now(UTC) - timedelta(days=30)
    task = await make.task(await make.project(owner), created_at=long_ago, updated_at=long_ago)
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)

    with time_machine.travel(moment, tick=False):
        headers = make.headers(owner)
        response = await bulk(client, headers, [task.id], priority=2)
        got = await client.get(f"{TASKS}/{task.id}", headers=headers)

    assert response.status_code == 200, response.text
    assert parse_time(got.json()["updated_at"]) == moment


async def test_an_editor_bulk_updates_across_several_projects(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    alice, bob, editor = await make(), await make(), await make()
    first, second = await make.project(alice), await make.project(bob)
    await make.member(first, editor, "editor")
    await make.member(second, editor, "editor")
    tasks = [await make.task(first), await make.task(second)]

    response = await bulk(
        client, make.headers(editor), [t.id for t in tasks], priority=5, assignee_id=editor.id
    )

    assert response.status_code == 200, response.text
    stored = await snapshots(sessionmaker, [t.id for t in tasks])
    assert {(s.priority, s.assignee_id) for s in stored.values()} == {(5, editor.id)}


# --- bulk-update: bounded queries ------------------------------------------------------------


async def test_bulk_update_of_60_tasks_takes_as_many_queries_as_of_2(
    client: AsyncClient, make: DomainFactory, app: FastAPI
) -> None:
    owner, helper = await make(), await make()
    projects = [await make.project(owner) for _ in range(3)]
    for project in projects:
        await make.member(project, helper, "editor")
    tasks = [task for project in projects for task in await make.tasks(project, 20)]
    few_ids = [tasks[0].id, tasks[-1].id]
    headers = make.headers(owner)
    await bulk(client, headers, few_ids, priority=2)  # warm up: connection set-up not counted
    update = {"priority": 4, "is_completed": True, "assignee_id": helper.id}

    with sql.statements(app) as few:
        small = await bulk(client, headers, few_ids, **update)
    with sql.statements(app) as many:
        large = await bulk(client, headers, [t.id for t in tasks], **update)

    assert (small.json(), large.json()) == ({"updated_count": 2}, {"updated_count": 60})
    assert len(few) == len(many), (few, many)
    # The caller, the lock, the views read (and their labels), the assignee's check;
    # completing moves the tasks to a done status (its choice, its last keys, the new
    # places); the UPDATE; the views after (and their labels); their activity events.
    assert len(few) <= 12, few
