"""A task's status and place on the board: create, change, bulk, filters and board order."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import assert_error, error_locs
from tests.support.statuses import board_order, status_named, stored_statuses, stored_tasks
from tests.support.tasks import BULK, TASKS

Sessions = async_sessionmaker[AsyncSession]


async def test_a_new_task_goes_to_the_end_of_the_first_status_not_done(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    todo = await status_named(sessionmaker, project, "To do")
    # The first status that is not done, whatever its category.
    done = await status_named(sessionmaker, project, "Done")
    await client.patch(
        f"/api/v1/projects/{project.id}/statuses/{done.id}",
        json={"position": 0},
        headers=make.headers(owner),
    )

    first = await client.post(
        TASKS, json={"title": "One", "project_id": project.id}, headers=make.headers(owner)
    )
    second = await client.post(
        TASKS, json={"title": "Two", "project_id": project.id}, headers=make.headers(owner)
    )

    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == {"id": todo.id, "name": "To do", "category": "todo"}
    assert body["is_completed"] is False
    assert first.json()["position"] < second.json()["position"]
    read = await client.get(f"{TASKS}/{body['id']}", headers=make.headers(owner))
    assert read.json() == body


async def test_create_in_a_done_status_completes_the_task(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    done = await status_named(sessionmaker, project, "Done")

    response = await client.post(
        TASKS,
        json={"title": "Done already", "project_id": project.id, "status_id": done.id},
        headers=make.headers(owner),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"]["id"] == done.id
    assert body["is_completed"] is True
    assert body["completed_at"] is not None


async def test_a_status_of_another_project_is_422_on_create_change_and_bulk(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project, other = await make.project(owner), await make.project(owner)
    foreign = (await stored_statuses(sessionmaker, other.id))[0]
    task = await make.task(project)
    headers = make.headers(owner)

    created = await client.post(
        TASKS,
        json={"title": "x", "project_id": project.id, "status_id": foreign.id},
        headers=headers,
    )
    changed = await client.patch(
        f"{TASKS}/{task.id}", json={"status_id": foreign.id}, headers=headers
    )
    bulk = await client.post(
        BULK,
        json={"task_ids": [task.id], "update_data": {"status_id": foreign.id}},
        headers=headers,
    )

    assert ["body", "status_id"] in error_locs(created)
    assert ["body", "status_id"] in error_locs(changed)
    assert ["body", "update_data", "status_id"] in error_locs(bulk)
    (stored,) = await stored_tasks(sessionmaker, task.id)
    assert stored.status_id == task.status_id


async def test_create_with_a_foreign_status_in_an_unseen_project_is_404(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)
    todo = await status_named(sessionmaker, project, "To do")
    response = await client.post(
        TASKS,
        json={"title": "x", "project_id": project.id, "status_id": todo.id},
        headers=make.headers(stranger),
    )
    assert_error(response, 404, "not_found")


async def test_patch_status_id_moves_the_task_and_its_completion_follows(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    doing = await status_named(sessionmaker, project, "In progress")
    done = await status_named(sessionmaker, project, "Done")
    task = await make.task(project)
    url, headers = f"{TASKS}/{task.id}", make.headers(owner)

    to_doing = await client.patch(url, json={"status_id": doing.id}, headers=headers)
    to_done = await client.patch(url, json={"status_id": done.id}, headers=headers)
    back = await client.patch(url, json={"status_id": doing.id}, headers=headers)

    assert to_doing.json()["status"]["name"] == "In progress"
    assert to_doing.json()["is_completed"] is False
    assert to_done.json()["is_completed"] is True
    assert to_done.json()["completed_at"] is not None
    assert back.json()["is_completed"] is False
    assert back.json()["completed_at"] is None
    assert (await client.get(url, headers=headers)).json() == back.json()


async def test_completing_and_reopening_moves_to_the_first_done_and_todo_status(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    doing = await status_named(sessionmaker, project, "In progress")
    task = await make.task(project, status_id=doing.id)
    url, headers = f"{TASKS}/{task.id}", make.headers(owner)

    completed = await client.patch(url, json={"is_completed": True}, headers=headers)
    reopened = await client.patch(url, json={"is_completed": False}, headers=headers)

    assert completed.json()["status"]["name"] == "Done"
    assert completed.json()["completed_at"] is not None
    assert reopened.json()["status"]["name"] == "To do"
    assert reopened.json()["completed_at"] is None


async def test_bulk_completion_and_status_move_the_tasks(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    doing = await status_named(sessionmaker, project, "In progress")
    done = await status_named(sessionmaker, project, "Done")
    todo = await status_named(sessionmaker, project, "To do")
    first, second = await make.tasks(project, 2)
    ids, headers = [first.id, second.id], make.headers(owner)

    completed = await client.post(
        BULK, json={"task_ids": ids, "update_data": {"is_completed": True}}, headers=headers
    )
    in_done = await stored_tasks(sessionmaker, *ids)
    moved = await client.post(
        BULK, json={"task_ids": ids, "update_data": {"status_id": doing.id}}, headers=headers
    )
    in_doing = await stored_tasks(sessionmaker, *ids)
    reopened = await client.post(
        BULK, json={"task_ids": ids, "update_data": {"is_completed": False}}, headers=headers
    )

    assert [r.status_code for r in (completed, moved, reopened)] == [200, 200, 200]
    assert {t.status_id for t in in_done} == {done.id}
    assert all(t.is_completed and t.completed_at for t in in_done)
    assert in_done[0].position < in_done[1].position
    assert {t.status_id for t in in_doing} == {doing.id}
    assert not any(t.is_completed or t.completed_at for t in in_doing)
    # Reopening tasks that are not done leaves them where they are.
    assert {t.status_id for t in await stored_tasks(sessionmaker, *ids)} == {doing.id}
    assert todo.id not in {t.status_id for t in in_doing}


async def test_filters_by_status_and_category(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)
    doing = await status_named(sessionmaker, project, "In progress")
    open_task = await make.task(project)
    busy = await make.task(project, status_id=doing.id)
    finished = await make.task(project, is_completed=True)
    headers = make.headers(owner)

    async def ids(**params: object) -> set[int]:
        response = await client.get(TASKS, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return {task["id"] for task in response.json()}

    assert await ids(status_id=doing.id) == {busy.id}
    assert await ids(status_category="todo") == {open_task.id}
    assert await ids(status_category="done") == {finished.id}
    assert await ids(status_category="in_progress", project_id=project.id) == {busy.id}
    assert await ids(status_category="todo", sort="position") == {open_task.id}
    # Another user's status shows nothing of it.
    theirs = await client.get(TASKS, params={"status_id": doing.id}, headers=make.headers(stranger))
    assert theirs.json() == []
    wrong = await client.get(TASKS, params={"status_category": "blocked"}, headers=headers)
    assert ["query", "status_category"] in error_locs(wrong)


async def test_sort_by_position_lists_in_board_order_across_pages(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    doing = await status_named(sessionmaker, project, "In progress")
    done = await status_named(sessionmaker, project, "Done")
    finished = await make.tasks(project, 2, is_completed=True)
    busy = await make.tasks(project, 3, status_id=doing.id)
    waiting = await make.tasks(project, 3)
    # "Done" first on the board: its tasks come first.
    await client.patch(
        f"/api/v1/projects/{project.id}/statuses/{done.id}",
        json={"position": 0},
        headers=make.headers(owner),
    )
    expected = [t.id for t in (*finished, *waiting, *busy)]

    assert await board_order(client, project.id, make.headers(owner)) == expected
    seen: list[int] = []
    params: dict[str, object] = {"project_id": project.id, "sort": "position", "limit": 3}
    while True:
        page = await client.get(TASKS, params=params, headers=make.headers(owner))
        assert page.status_code == 200, page.text
        seen += [task["id"] for task in page.json()]
        if "next" not in page.links:
            break
        params = {**params, "cursor": page.links["next"]["url"].split("cursor=")[1].split("&")[0]}
    assert seen == expected


@pytest.mark.parametrize("case", ["mixed-case keys"])
async def test_board_order_compares_rank_keys_byte_by_byte(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions, case: str
) -> None:
    owner = await make()
    project = await make.project(owner)
    # "Z" sorts before "a" byte by byte, after it in most locales' collations.
    low = await make.task(project, position="a0Z")
    high = await make.task(project, position="a0a")
    assert await board_order(client, project.id, make.headers(owner)) == [low.id, high.id]
