"""POST /tasks/{id}/move takes the task's subtasks along and maps its labels by name."""

from __future__ import annotations

from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import assert_error
from tests.support.labels import label_names, new_label, new_task, stored_label_ids, stored_tasks
from tests.support.statuses import status_named, stored_statuses
from tests.support.tasks import TASKS


async def _move(
    client: AsyncClient, headers: dict[str, str], task_id: int, project_id: int
) -> Response:
    return await client.post(
        f"{TASKS}/{task_id}/move", json={"project_id": project_id}, headers=headers
    )


async def test_a_moved_task_carries_the_targets_labels_of_the_same_names_and_drops_the_others(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    source, target = await make.project(owner), await make.project(owner)
    headers = make.headers(owner)
    bug = await new_label(client, headers, source, "Bug")
    idea = await new_label(client, headers, source, "idea")
    target_bug = await new_label(client, headers, target, "BUG", "#ABCDEF")
    await new_label(client, headers, target, "other")
    task = await new_task(client, headers, source, label_ids=[bug["id"], idea["id"]])

    response = await _move(client, headers, task["id"], target.id)

    assert response.status_code == 200, response.text
    assert response.json()["labels"] == [
        {"id": target_bug["id"], "name": "BUG", "color": "#ABCDEF"}
    ]
    assert await stored_label_ids(sessionmaker, task["id"]) == {target_bug["id"]}


async def test_a_moved_task_without_matching_labels_carries_none(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    source, target = await make.project(owner), await make.project(owner)
    headers = make.headers(owner)
    label = await new_label(client, headers, source, "only here")
    task = await new_task(client, headers, source, label_ids=[label["id"]])

    response = await _move(client, headers, task["id"], target.id)

    assert label_names(response) == []


async def test_a_move_takes_the_whole_subtree_with_its_labels(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    source, target = await make.project(owner), await make.project(owner)
    headers = make.headers(owner)
    label = await new_label(client, headers, source, "shared")
    target_label = await new_label(client, headers, target, "Shared")
    top = await new_task(client, headers, source)
    doing = await status_named(sessionmaker, source, "In progress")
    done = await status_named(sessionmaker, source, "Done")
    child = await new_task(
        client, headers, source, parent_id=top["id"], label_ids=[label["id"]], status_id=doing.id
    )
    grandchild = await new_task(client, headers, source, parent_id=child["id"], status_id=done.id)
    stays = await new_task(client, headers, source)

    response = await _move(client, headers, top["id"], target.id)

    assert response.status_code == 200, response.text
    assert response.json()["subtask_counts"] == {"total": 1, "done": 0}
    stored = await stored_tasks(sessionmaker, top["id"], child["id"], grandchild["id"], stays["id"])
    assert {task_id: task.project_id for task_id, task in stored.items()} == {
        top["id"]: target.id,
        child["id"]: target.id,
        grandchild["id"]: target.id,
        stays["id"]: source.id,
    }
    assert stored[child["id"]].parent_id == top["id"]
    assert stored[grandchild["id"]].parent_id == child["id"]
    # Each subtask lands in the target's status of the category it was in, done stays done.
    there = {s.id: (s.name, s.category) for s in await stored_statuses(sessionmaker, target.id)}
    assert there[stored[child["id"]].status_id] == ("In progress", "in_progress")
    assert there[stored[grandchild["id"]].status_id] == ("Done", "done")
    assert stored[grandchild["id"]].is_completed
    assert await stored_label_ids(sessionmaker, child["id"]) == {target_label["id"]}
    read = await client.get(f"{TASKS}/{grandchild['id']}", headers=headers)
    assert read.json()["project"]["id"] == target.id
    assert read.headers["ETag"] == '"2"'


async def test_a_moved_subtree_clears_assignees_who_are_not_in_the_target(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, helper, both = await make(), await make(), await make()
    source, target = await make.project(owner), await make.project(owner)
    await make.member(source, helper, "editor")
    await make.member(source, both, "editor")
    await make.member(target, both, "viewer")
    headers = make.headers(owner)
    top = await new_task(client, headers, source)
    leaves = await new_task(client, headers, source, parent_id=top["id"], assignee_id=helper.id)
    keeps = await new_task(client, headers, source, parent_id=top["id"], assignee_id=both.id)
    owned = await new_task(client, headers, source, parent_id=top["id"], assignee_id=owner.id)

    response = await _move(client, headers, top["id"], target.id)

    assert response.status_code == 200, response.text
    stored = await stored_tasks(sessionmaker, leaves["id"], keeps["id"], owned["id"])
    assert stored[leaves["id"]].assignee_id is None
    assert stored[keeps["id"]].assignee_id == both.id
    assert stored[owned["id"]].assignee_id == owner.id


async def test_a_subtask_moved_alone_becomes_a_top_level_task_there(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    source, target = await make.project(owner), await make.project(owner)
    headers = make.headers(owner)
    top = await new_task(client, headers, source)
    child = await new_task(client, headers, source, parent_id=top["id"])

    response = await _move(client, headers, child["id"], target.id)

    assert response.status_code == 200, response.text
    assert response.json()["parent_id"] is None
    parent = await client.get(f"{TASKS}/{top['id']}", headers=headers)
    assert parent.json()["subtask_counts"] == {"total": 0, "done": 0}


async def test_moving_a_task_into_a_project_the_caller_cannot_see_is_404_and_moves_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, stranger = await make(), await make()
    source, foreign = await make.project(owner), await make.project(stranger)
    headers = make.headers(owner)
    top = await new_task(client, headers, source)
    child = await new_task(client, headers, source, parent_id=top["id"])

    response = await _move(client, headers, top["id"], foreign.id)

    assert_error(response, 404, "not_found")
    stored = await stored_tasks(sessionmaker, top["id"], child["id"])
    assert {task.project_id for task in stored.values()} == {source.id}
