"""Bulk updates refused as a whole: invisible, forbidden, archived or invalid tasks change
nothing."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import assert_error, error_locs
from tests.support.tasks import BULK, bulk, snapshots

# --- bulk-update: refused requests -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"task_ids": ["ID"], "update_data": {}}, ["body", "update_data"]),
        ({"task_ids": [], "update_data": {"priority": 1}}, ["body", "task_ids"]),
        ({"task_ids": "101", "update_data": {"priority": 1}}, ["body", "task_ids"]),
        ({"task_ids": ["ID"], "update_data": {"priority": 6}}, ["body", "update_data", "priority"]),
        (
            {"task_ids": ["ID"], "update_data": {"title": "x"}},
            ["body", "update_data", "title"],
        ),
        (
            {"task_ids": ["ID"], "update_data": {"project_id": 1}},
            ["body", "update_data", "project_id"],
        ),
        (
            {"task_ids": ["ID"], "update_data": {"is_completed": None}},
            ["body", "update_data", "is_completed"],
        ),
        ({"task_ids": [0], "update_data": {"priority": 1}}, ["body", "task_ids", 0]),
        ({"update_data": {"priority": 1}}, ["body", "task_ids"]),
    ],
    ids=[
        "empty-update",
        "no-ids",
        "101-ids",
        "priority-6",
        "title",
        "project_id",
        "null-is_completed",
        "id-0",
        "missing-ids",
    ],
)
async def test_bulk_update_refuses_an_invalid_body_with_422_and_changes_nothing(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
    loc: list[Any],
) -> None:
    owner = await make()
    tasks = await make.tasks(await make.project(owner), 101, priority=3)
    all_ids = [t.id for t in tasks]
    if body.get("task_ids") == "101":
        body = {**body, "task_ids": all_ids}
    elif body.get("task_ids") == ["ID"]:
        body = {**body, "task_ids": [all_ids[0]]}

    response = await client.post(BULK, json=body, headers=make.headers(owner))

    assert loc in error_locs(response)
    stored = await snapshots(sessionmaker, all_ids)
    assert {(s.priority, s.version) for s in stored.values()} == {(3, 1)}


async def test_bulk_update_accepts_exactly_100_ids(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    tasks = await make.tasks(await make.project(owner), 100, priority=3)

    response = await bulk(client, make.headers(owner), [t.id for t in tasks], priority=1)

    assert response.status_code == 200, response.text
    assert response.json() == {"updated_count": 100}
    stored = await snapshots(sessionmaker, [t.id for t in tasks])
    assert {s.priority for s in stored.values()} == {1}


async def test_bulk_update_with_a_missing_id_is_404_naming_it_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    tasks = await make.tasks(await make.project(owner), 2, priority=3)
    missing, also_missing = 10**12 + 7, 10**12 + 3

    response = await bulk(
        client,
        make.headers(owner),
        [tasks[0].id, missing, tasks[1].id, also_missing],
        priority=1,
    )

    detail = assert_error(response, 404, "not_found")["detail"]
    assert detail == f"Tasks not found: {also_missing}, {missing}"
    stored = await snapshots(sessionmaker, [t.id for t in tasks])
    assert {(s.priority, s.version) for s in stored.values()} == {(3, 1)}


async def test_bulk_update_with_another_users_task_is_404_naming_it_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    alice, bob = await make(), await make()
    bobs = await make.task(await make.project(bob), priority=3, is_completed=False)
    alices = await make.tasks(await make.project(alice), 2, priority=3, is_completed=False)

    response = await bulk(
        client, make.headers(alice), [alices[0].id, bobs.id, alices[1].id], is_completed=True
    )

    detail = assert_error(response, 404, "not_found")["detail"]
    assert str(bobs.id) in detail
    stored = await snapshots(sessionmaker, [bobs.id, *(t.id for t in alices)])
    assert {(s.is_completed, s.completed_at, s.version) for s in stored.values()} == {
        (False, None, 1)
    }


async def test_bulk_update_with_a_task_where_the_caller_is_viewer_is_403_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, caller = await make(), await make()
    edited, viewed = await make.project(owner), await make.project(owner)
    await make.member(edited, caller, "editor")
    await make.member(viewed, caller, "viewer")
    editable = await make.tasks(edited, 2, priority=3)
    read_only = await make.task(viewed, priority=3)

    response = await bulk(
        client, make.headers(caller), [editable[0].id, read_only.id, editable[1].id], priority=1
    )

    detail = assert_error(response, 403, "forbidden")["detail"]
    assert str(read_only.id) in detail
    stored = await snapshots(sessionmaker, [read_only.id, *(t.id for t in editable)])
    assert {(s.priority, s.version) for s in stored.values()} == {(3, 1)}


async def test_bulk_update_with_a_task_of_an_archived_project_is_409_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    live = await make.tasks(await make.project(owner), 2, priority=3)
    frozen = await make.task(await make.project(owner, is_archived=True), priority=3)

    response = await bulk(client, make.headers(owner), [live[0].id, frozen.id], priority=1)

    detail = assert_error(response, 409, "project_archived")["detail"]
    assert str(frozen.id) in detail
    stored = await snapshots(sessionmaker, [frozen.id, *(t.id for t in live)])
    assert {(s.priority, s.version) for s in stored.values()} == {(3, 1)}


async def test_bulk_update_with_an_assignee_outside_one_tasks_project_is_422_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, helper = await make(), await make()
    with_helper, without_helper = await make.project(owner), await make.project(owner)
    await make.member(with_helper, helper, "editor")
    ok = await make.task(with_helper, priority=3)
    refused = await make.task(without_helper, priority=3)

    response = await bulk(
        client, make.headers(owner), [ok.id, refused.id], assignee_id=helper.id, priority=1
    )

    assert error_locs(response) == [["body", "update_data", "assignee_id"]]
    assert str(refused.id) in response.json()["detail"][0]["msg"]
    stored = await snapshots(sessionmaker, [ok.id, refused.id])
    assert {(s.assignee_id, s.priority, s.version) for s in stored.values()} == {(None, 3, 1)}


async def test_bulk_update_with_a_deactivated_member_as_assignee_is_422(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, gone = await make(), await make(is_active=False)
    project = await make.project(owner)
    await make.member(project, gone, "editor")
    task = await make.task(project, priority=3)

    response = await bulk(client, make.headers(owner), [task.id], assignee_id=gone.id)

    assert error_locs(response) == [["body", "update_data", "assignee_id"]]
    assert response.json()["detail"][0]["msg"] == (
        f"The assignee is not the owner or a member of the project of tasks: {task.id}"
    )
    assert (await snapshots(sessionmaker, [task.id]))[task.id].assignee_id is None


async def test_bulk_update_with_an_unknown_assignee_is_422(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner))

    response = await bulk(client, make.headers(owner), [task.id], assignee_id=10**12)

    assert error_locs(response) == [["body", "update_data", "assignee_id"]]
    assert (await snapshots(sessionmaker, [task.id]))[task.id].version == 1
