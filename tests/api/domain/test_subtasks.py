"""Subtasks: parent_id on create and change, its rules, the counts, filters and deletes."""

from __future__ import annotations

import asyncio
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import assert_error
from tests.support.labels import create_task, new_task, patch_task, stored_tasks
from tests.support.tasks import TASKS, assert_422_at, bulk, count_tasks, listed


async def _chain(
    client: AsyncClient, headers: dict[str, str], project: Any, depth: int
) -> list[dict[str, Any]]:
    """`depth` tasks, each a subtask of the one before."""
    tasks = [await new_task(client, headers, project, title="level 1")]
    for level in range(2, depth + 1):
        tasks.append(
            await new_task(
                client, headers, project, title=f"level {level}", parent_id=tasks[-1]["id"]
            )
        )
    return tasks


async def test_a_subtask_is_created_under_a_task_and_the_parent_counts_it(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    parent = await new_task(client, headers, project)

    child = await new_task(client, headers, project, parent_id=parent["id"])
    done = await new_task(client, headers, project, parent_id=parent["id"])
    await patch_task(client, headers, done["id"], is_completed=True)

    assert parent["parent_id"] is None
    assert parent["subtask_counts"] == {"total": 0, "done": 0}
    assert child["parent_id"] == parent["id"]
    assert child["subtask_counts"] == {"total": 0, "done": 0}
    read = await client.get(f"{TASKS}/{parent['id']}", headers=headers)
    assert read.json()["subtask_counts"] == {"total": 2, "done": 1}
    listed_parent = [
        task
        for task in (await client.get(TASKS, headers=headers)).json()
        if task["id"] == parent["id"]
    ]
    assert listed_parent[0]["subtask_counts"] == {"total": 2, "done": 1}


async def test_counts_are_of_direct_subtasks_only(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    top, _middle, _ = await _chain(client, headers, project, 3)

    read = await client.get(f"{TASKS}/{top['id']}", headers=headers)

    assert read.json()["subtask_counts"] == {"total": 1, "done": 0}


async def test_a_parent_in_another_project_is_422(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project, other = await make.project(owner), await make.project(owner)
    headers = make.headers(owner)
    elsewhere = await new_task(client, headers, other)
    task = await new_task(client, headers, project)

    created = await create_task(client, headers, project, parent_id=elsewhere["id"])
    changed = await patch_task(client, headers, task["id"], parent_id=elsewhere["id"])

    assert_422_at(created, ["body", "parent_id"])
    assert_422_at(changed, ["body", "parent_id"])
    assert await listed(client, headers, project_id=project.id) == ([task["id"]], 1)


async def test_an_unknown_or_invisible_parent_is_422_not_a_leak(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)
    secret = await make.task(await make.project(stranger))
    headers = make.headers(owner)

    for parent_id in (secret.id, 987_654_321):
        response = await create_task(client, headers, project, parent_id=parent_id)
        assert_422_at(response, ["body", "parent_id"])
        assert response.json()["detail"][0]["msg"] == (
            "The parent must be a task of the same project"
        )


async def test_create_in_an_invisible_project_with_a_parent_is_404(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)
    parent = await make.task(project)

    response = await create_task(client, make.headers(stranger), project, parent_id=parent.id)

    assert_error(response, 404, "not_found")


async def test_a_viewer_cannot_create_a_subtask(client: AsyncClient, make: DomainFactory) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")
    parent = await make.task(project)

    response = await create_task(client, make.headers(viewer), project, parent_id=parent.id)

    assert_error(response, 403, "forbidden")


async def test_a_task_cannot_be_its_own_parent(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)
    task = await make.task(project)

    response = await patch_task(client, make.headers(owner), task.id, parent_id=task.id)

    assert_422_at(response, ["body", "parent_id"])


async def test_a_parent_below_the_task_would_make_a_cycle_and_is_422(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    top, middle, bottom = await _chain(client, headers, project, 3)

    to_child = await patch_task(client, headers, top["id"], parent_id=middle["id"])
    to_grandchild = await patch_task(client, headers, top["id"], parent_id=bottom["id"])

    assert_422_at(to_child, ["body", "parent_id"])
    assert_422_at(to_grandchild, ["body", "parent_id"])
    assert (await stored_tasks(sessionmaker, top["id"]))[top["id"]].parent_id is None


async def test_nesting_is_at_most_5_levels(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    chain = await _chain(client, headers, project, 5)

    too_deep = await create_task(client, headers, project, parent_id=chain[-1]["id"])

    assert_422_at(too_deep, ["body", "parent_id"])
    assert len(chain) == 5


async def test_moving_a_subtree_under_a_task_counts_the_subtree_levels(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    deep = await _chain(client, headers, project, 3)  # levels 1-3
    subtree = await _chain(client, headers, project, 3)  # its top would land at level 4

    refused = await patch_task(client, headers, subtree[0]["id"], parent_id=deep[2]["id"])
    allowed = await patch_task(client, headers, subtree[0]["id"], parent_id=deep[0]["id"])

    assert_422_at(refused, ["body", "parent_id"])
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["parent_id"] == deep[0]["id"]


async def test_patch_sets_and_clears_the_parent_and_bumps_the_version(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    parent, task = (
        await new_task(client, headers, project),
        await new_task(client, headers, project),
    )

    placed = await patch_task(client, headers, task["id"], parent_id=parent["id"])
    freed = await patch_task(client, headers, task["id"], parent_id=None)

    assert placed.json()["parent_id"] == parent["id"]
    assert placed.headers["ETag"] == '"2"'
    assert freed.json()["parent_id"] is None
    assert freed.headers["ETag"] == '"3"'


async def test_parent_changes_follow_if_match(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    parent, task = (
        await new_task(client, headers, project),
        await new_task(client, headers, project),
    )
    await patch_task(client, headers, task["id"], title="moved on")

    stale = await client.patch(
        f"{TASKS}/{task['id']}",
        json={"parent_id": parent["id"]},
        headers={**headers, "If-Match": '"1"'},
    )

    assert_error(stale, 412, "precondition_failed")


# --- filters ----------------------------------------------------------------------------------


async def test_the_parent_id_and_top_level_filters(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    top, middle, bottom = await _chain(client, headers, project, 3)
    sibling = await new_task(client, headers, project, parent_id=top["id"])
    alone = await new_task(client, headers, project)

    children = await listed(client, headers, parent_id=top["id"], sort="created_at")
    tops = await listed(client, headers, top_level="true", sort="created_at")

    assert children == ([middle["id"], sibling["id"]], 2)
    assert tops == ([top["id"], alone["id"]], 2)
    assert await listed(client, headers, parent_id=middle["id"]) == ([bottom["id"]], 1)


async def test_the_parent_id_filter_shows_nothing_of_another_users_task(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)
    top, _ = await _chain(client, make.headers(owner), project, 2)

    assert await listed(client, make.headers(stranger), parent_id=top["id"]) == ([], 0)


async def test_top_level_false_lists_the_subtasks_and_other_values_are_422(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    _top, middle, bottom = await _chain(client, headers, project, 3)

    subtasks = await listed(client, headers, top_level="false", sort="created_at")
    response = await client.get(TASKS, params={"top_level": "maybe"}, headers=headers)

    assert subtasks == ([middle["id"], bottom["id"]], 2)
    assert_error(response, 422, "validation_error")


# --- deletes ----------------------------------------------------------------------------------


async def test_deleting_a_task_deletes_its_subtasks_at_every_level(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    chain = await _chain(client, headers, project, 4)
    other = await new_task(client, headers, project)

    response = await client.delete(f"{TASKS}/{chain[1]['id']}", headers=headers)

    assert response.status_code == 204, response.text
    remaining = await stored_tasks(sessionmaker, *(task["id"] for task in chain), other["id"])
    assert set(remaining) == {chain[0]["id"], other["id"]}
    assert await count_tasks(sessionmaker, project_id=project.id) == 2


async def test_bulk_completion_shows_in_the_parents_counts(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    parent = await new_task(client, headers, project)
    children = [await new_task(client, headers, project, parent_id=parent["id"]) for _ in range(3)]

    await bulk(client, headers, [children[0]["id"], children[1]["id"]], is_completed=True)

    read = await client.get(f"{TASKS}/{parent['id']}", headers=headers)
    assert read.json()["subtask_counts"] == {"total": 3, "done": 2}


async def test_two_concurrent_patches_making_a_cycle_do_not_both_succeed(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    first, second = await make.task(project), await make.task(project)

    answers = await asyncio.gather(
        patch_task(client, headers, first.id, parent_id=second.id),
        patch_task(client, headers, second.id, parent_id=first.id),
    )

    assert sorted(a.status_code for a in answers) in ([200, 409], [200, 422], [409, 422])
    stored = await stored_tasks(sessionmaker, first.id, second.id)
    parents = {task_id: task.parent_id for task_id, task in stored.items()}
    assert parents in (
        {first.id: second.id, second.id: None},
        {first.id: None, second.id: first.id},
        {first.id: None, second.id: None},
    )
