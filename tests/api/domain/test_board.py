"""Ordering tasks on the board (POST /tasks/{id}/move) and reading it (GET /projects/{id}/board)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support import sql
from tests.support.api import assert_error, error_locs
from tests.support.labels import new_label, patch_task
from tests.support.statuses import board_order, board_url, status_named, stored_tasks
from tests.support.tasks import TASKS

Sessions = async_sessionmaker[AsyncSession]


async def _move(client: AsyncClient, task_id: int, headers: dict[str, str], **body: Any) -> Any:
    return await client.post(f"{TASKS}/{task_id}/move", json=body, headers=headers)


async def test_move_before_and_after_a_task_reorders_without_touching_the_others(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    a, b, c = await make.tasks(project, 3)
    headers = make.headers(owner)

    before = await _move(client, c.id, headers, before_id=a.id)
    assert before.status_code == 200, before.text
    assert await board_order(client, project.id, headers) == [c.id, a.id, b.id]
    after = await _move(client, c.id, headers, after_id=a.id)
    assert after.status_code == 200, after.text
    assert await board_order(client, project.id, headers) == [a.id, c.id, b.id]
    end = await _move(client, a.id, headers, status_id=a.status_id)
    assert await board_order(client, project.id, headers) == [c.id, b.id, a.id]
    assert end.status_code == 200, end.text
    (stored_b,) = await stored_tasks(sessionmaker, b.id)
    assert stored_b.position == b.position and stored_b.version == b.version


async def test_a_move_between_two_tasks_sharing_one_key_spreads_the_keys_first(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    # Placed at the same instant: one key for both (they sort by id).
    first = await make.task(project, position="a5")
    second = await make.task(project, position="a5")
    moving = await make.task(project, position="a9")
    headers = make.headers(owner)

    response = await _move(client, moving.id, headers, after_id=first.id)

    assert response.status_code == 200, response.text
    assert await board_order(client, project.id, headers) == [first.id, moving.id, second.id]
    spread_first, spread_second = await stored_tasks(sessionmaker, first.id, second.id)
    assert spread_first.position < spread_second.position
    assert spread_first.version == first.version + 1


async def test_move_to_a_status_before_a_task_there_follows_its_category(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    done = await status_named(sessionmaker, project, "Done")
    finished = await make.task(project, is_completed=True)
    task = await make.task(project)

    response = await _move(
        client, task.id, make.headers(owner), status_id=done.id, before_id=finished.id
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == {"id": done.id, "name": "Done", "category": "done"}
    assert body["is_completed"] is True and body["completed_at"] is not None
    assert body["position"] < finished.position
    assert response.headers["ETag"] == '"2"'


async def test_a_neighbour_outside_the_target_status_is_409(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)
    doing = await status_named(sessionmaker, project, "In progress")
    task, other = await make.tasks(project, 2)
    elsewhere = await make.task(await make.project(stranger))
    headers = make.headers(owner)

    responses = [
        await _move(client, task.id, headers, status_id=doing.id, before_id=other.id),
        await _move(client, task.id, headers, after_id=elsewhere.id),
        await _move(client, task.id, headers, before_id=task.id),
        await _move(client, task.id, headers, after_id=987_654_321),
    ]

    for response in responses:
        assert_error(response, 409, "conflict")
    (stored,) = await stored_tasks(sessionmaker, task.id)
    assert (stored.status_id, stored.position, stored.version) == (
        task.status_id,
        task.position,
        task.version,
    )


async def test_move_to_a_status_of_another_project_is_422(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project, other = await make.project(owner), await make.project(owner)
    foreign = await status_named(sessionmaker, other, "Done")
    task = await make.task(project)
    response = await _move(client, task.id, make.headers(owner), status_id=foreign.id)
    assert ["body", "status_id"] in error_locs(response)


async def test_move_to_another_project_keeps_the_category_where_it_can(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    source, target = await make.project(owner), await make.project(owner)
    doing = await status_named(sessionmaker, source, "In progress")
    target_doing = await status_named(sessionmaker, target, "In progress")
    target_todo = await status_named(sessionmaker, target, "To do")
    busy = await make.task(source, status_id=doing.id)
    headers = make.headers(owner)

    kept = await _move(client, busy.id, headers, project_id=target.id)
    assert kept.json()["status"]["id"] == target_doing.id
    # Without an in-progress status there, the first status not done.
    await client.delete(
        f"/api/v1/projects/{source.id}/statuses/{doing.id}",
        params={"move_to": (await status_named(sessionmaker, source, "To do")).id},
        headers=headers,
    )
    other = await make.task(target, status_id=target_doing.id)
    back = await _move(client, busy.id, headers, project_id=source.id)
    assert back.json()["status"]["name"] == "To do"
    chosen = await _move(client, other.id, headers, project_id=source.id, status_id=doing.id)
    assert ["body", "status_id"] in error_locs(chosen)
    assert target_todo.id != target_doing.id


async def test_board_shows_statuses_in_order_with_their_first_tasks_and_totals(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    doing = await status_named(sessionmaker, project, "In progress")
    waiting = await make.tasks(project, 4)
    busy = await make.tasks(project, 1, status_id=doing.id)
    # A card shows its labels, as the task does wherever it is read.
    label = await new_label(client, make.headers(owner), project, "urgent")
    labelled = await patch_task(client, make.headers(owner), waiting[0].id, label_ids=[label["id"]])
    assert labelled.status_code == 200, labelled.text

    response = await client.get(
        board_url(project.id), params={"limit": 2}, headers=make.headers(owner)
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["project_id"] == project.id
    columns = body["statuses"]
    assert [(c["name"], c["total"]) for c in columns] == [
        ("To do", 4),
        ("In progress", 1),
        ("Done", 0),
    ]
    assert [t["id"] for t in columns[0]["tasks"]] == [t.id for t in waiting[:2]]
    assert [t["id"] for t in columns[1]["tasks"]] == [busy[0].id]
    assert columns[2]["tasks"] == []
    one = await client.get(f"{TASKS}/{waiting[0].id}", headers=make.headers(owner))
    assert columns[0]["tasks"][0] == one.json()
    assert [card_label["name"] for card_label in one.json()["labels"]] == ["urgent"]


async def test_board_refuses_the_unseen_the_unauthenticated_and_bad_limits(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, stranger, viewer = await make(), await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")

    assert_error(
        await client.get(board_url(project.id), headers=make.headers(stranger)), 404, "not_found"
    )
    assert_error(
        await client.get(board_url(987_654_321), headers=make.headers(owner)), 404, "not_found"
    )
    assert_error(await client.get(board_url(project.id)), 401, "not_authenticated")
    for limit in (0, 201, "x"):
        wrong = await client.get(
            board_url(project.id), params={"limit": limit}, headers=make.headers(owner)
        )
        assert ["query", "limit"] in error_locs(wrong)
    assert (
        await client.get(board_url(project.id), headers=make.headers(viewer))
    ).status_code == 200


async def test_reads_take_a_fixed_number_of_statements_whatever_the_rows(
    client: AsyncClient, make: DomainFactory, app: FastAPI
) -> None:
    owner = await make()
    small, large = await make.project(owner), await make.project(owner)
    await make.tasks(small, 5)
    many = await make.tasks(large, 50)
    headers = make.headers(owner)
    await client.get(board_url(small.id), headers=headers)  # warm up: connection set-up

    counts: dict[str, list[int]] = {}
    for project in (small, large):
        reads = {
            "board": (board_url(project.id), {}),
            "list": (TASKS, {"project_id": project.id, "limit": 20}),
            "board-order": (TASKS, {"project_id": project.id, "sort": "position", "limit": 20}),
            "one": (f"{TASKS}/{many[0].id}" if project is large else f"{TASKS}/{many[1].id}", {}),
        }
        for name, (url, params) in reads.items():
            # A fresh query string each time: the read cache must not answer.
            with sql.statements(app) as seen:
                response = await client.get(url, params={**params, "skip": 0}, headers=headers)
            assert response.status_code == 200, response.text
            counts.setdefault(name, []).append(len(seen))

    for name, (few, lots) in counts.items():
        assert few == lots, (name, few, lots)
    assert counts["board"][0] <= 5, counts
