"""POST /api/v1/tasks/bulk-update (all or nothing, bounded queries) and
POST /api/v1/tasks/{id}/move (editor on both projects, assignee kept only if it belongs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi import FastAPI
from httpx import AsyncClient, Response
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.tasks.models import Task
from tests.factories import DomainFactory

TASKS = "/api/v1/tasks"
BULK = f"{TASKS}/bulk-update"
ERROR_FIELDS = {"detail", "error", "request_id"}


# --- helpers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What a change could touch, as stored."""

    project_id: int
    priority: int
    is_completed: bool
    completed_at: datetime | None
    due_date: datetime | None
    assignee_id: int | None
    version: int


async def snapshots(
    sessionmaker: async_sessionmaker[AsyncSession], task_ids: list[int]
) -> dict[int, Snapshot]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(Task).where(Task.id.in_(task_ids)))
        return {
            task.id: Snapshot(
                task.project_id,
                task.priority,
                task.is_completed,
                task.completed_at,
                task.due_date,
                task.assignee_id,
                task.version,
            )
            for task in rows
        }


def assert_error(response: Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_FIELDS
    assert body["error"] == error
    return str(body["detail"])


def error_locs(response: Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [item["loc"] for item in response.json()["detail"]]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@contextmanager
def counted_statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements the app's engine sends while the block runs."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engine = app.state.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def bulk(
    client: AsyncClient, headers: dict[str, str], task_ids: list[int], **update_data: Any
) -> Response:
    return await client.post(
        BULK, json={"task_ids": task_ids, "update_data": update_data}, headers=headers
    )


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

    detail = assert_error(response, 404, "not_found")
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

    detail = assert_error(response, 404, "not_found")
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

    detail = assert_error(response, 403, "forbidden")
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

    detail = assert_error(response, 409, "project_archived")
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

    with counted_statements(app) as few:
        small = await bulk(client, headers, few_ids, **update)
    with counted_statements(app) as many:
        large = await bulk(client, headers, [t.id for t in tasks], **update)

    assert (small.json(), large.json()) == ({"updated_count": 2}, {"updated_count": 60})
    assert len(few) == len(many), (few, many)
    assert len(few) <= 5, few


# --- move ------------------------------------------------------------------------------------


async def test_move_by_an_editor_of_both_projects_answers_the_task_in_its_new_project(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    alice, bob, editor = await make(), await make(), await make()
    source, target = await make.project(alice), await make.project(bob, name="Target")
    await make.member(source, editor, "editor")
    await make.member(target, editor, "editor")
    task = await make.task(source, title="Travels")

    response = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(editor)
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == task.id
    assert body["title"] == "Travels"
    assert body["project"] == {"id": target.id, "name": "Target"}
    assert response.headers["ETag"] == '"2"'
    assert (await snapshots(sessionmaker, [task.id]))[task.id].project_id == target.id
    # alice no longer sees it; bob now does
    gone = await client.get(f"{TASKS}/{task.id}", headers=make.headers(alice))
    assert_error(gone, 404, "not_found")
    seen = await client.get(f"{TASKS}/{task.id}", headers=make.headers(bob))
    assert seen.status_code == 200


async def test_move_clears_an_assignee_who_is_not_in_the_target_project(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, helper = await make(), await make()
    source, target = await make.project(owner), await make.project(owner)
    await make.member(source, helper, "editor")
    task = await make.task(source, assignee_id=helper.id)

    response = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(owner)
    )

    assert response.status_code == 200, response.text
    assert response.json()["assignee"] is None


async def test_move_keeps_an_assignee_who_is_in_the_target_project(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, helper, other_owner = await make(), await make(), await make()
    source, target = await make.project(owner), await make.project(other_owner)
    await make.member(source, helper, "editor")
    await make.member(target, helper, "viewer")
    await make.member(target, owner, "editor")
    as_member = await make.task(source, assignee_id=helper.id)
    as_owner = await make.task(source, assignee_id=other_owner.id)
    await make.member(source, other_owner, "viewer")

    moved = [
        await client.post(
            f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(owner)
        )
        for task in (as_member, as_owner)
    ]

    assert [r.status_code for r in moved] == [200, 200], [r.text for r in moved]
    assert moved[0].json()["assignee"]["id"] == helper.id
    assert moved[1].json()["assignee"]["id"] == other_owner.id


async def test_move_as_viewer_of_the_target_is_403_and_leaves_the_task(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, other, caller = await make(), await make(), await make()
    source, target = await make.project(owner), await make.project(other)
    await make.member(source, caller, "editor")
    await make.member(target, caller, "viewer")
    task = await make.task(source)

    response = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(caller)
    )

    assert_error(response, 403, "forbidden")
    stored = (await snapshots(sessionmaker, [task.id]))[task.id]
    assert (stored.project_id, stored.version) == (source.id, 1)


async def test_move_as_viewer_of_the_source_is_403_and_leaves_the_task(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, caller = await make(), await make()
    source = await make.project(owner)
    target = await make.project(caller)
    await make.member(source, caller, "viewer")
    task = await make.task(source)

    response = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(caller)
    )

    assert_error(response, 403, "forbidden")
    assert (await snapshots(sessionmaker, [task.id]))[task.id].project_id == source.id


async def test_move_to_an_invisible_project_is_404_like_a_missing_one(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, stranger = await make(), await make()
    source, hidden = await make.project(owner), await make.project(stranger)
    task = await make.task(source)
    headers = make.headers(owner)

    to_hidden = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": hidden.id}, headers=headers
    )
    to_missing = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": 10**12}, headers=headers
    )

    assert assert_error(to_hidden, 404, "not_found") == assert_error(to_missing, 404, "not_found")
    assert (await snapshots(sessionmaker, [task.id]))[task.id].project_id == source.id


async def test_move_of_another_users_task_is_404_and_leaves_it(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    alice, bob = await make(), await make()
    alices_task = await make.task(await make.project(alice))
    bobs_project = await make.project(bob)

    response = await client.post(
        f"{TASKS}/{alices_task.id}/move",
        json={"project_id": bobs_project.id},
        headers=make.headers(bob),
    )

    assert_error(response, 404, "not_found")
    stored = (await snapshots(sessionmaker, [alices_task.id]))[alices_task.id]
    assert stored.project_id != bobs_project.id


@pytest.mark.parametrize("archived", ["source", "target"])
async def test_move_out_of_or_into_an_archived_project_is_409(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    archived: str,
) -> None:
    owner = await make()
    source = await make.project(owner, is_archived=archived == "source")
    target = await make.project(owner, is_archived=archived == "target")
    task = await make.task(source)

    response = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(owner)
    )

    assert_error(response, 409, "project_archived")
    stored = (await snapshots(sessionmaker, [task.id]))[task.id]
    assert (stored.project_id, stored.version) == (source.id, 1)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "project_id"]),
        ({"project_id": 0}, ["body", "project_id"]),
        ({"project_id": "PROJECT", "title": "x"}, ["body", "title"]),
    ],
    ids=["missing", "zero", "unknown-field"],
)
async def test_move_refuses_an_invalid_body_with_422(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
    loc: list[Any],
) -> None:
    owner = await make()
    source, target = await make.project(owner), await make.project(owner)
    task = await make.task(source)
    if body.get("project_id") == "PROJECT":
        body = {**body, "project_id": target.id}

    response = await client.post(f"{TASKS}/{task.id}/move", json=body, headers=make.headers(owner))

    assert loc in error_locs(response)
    assert (await snapshots(sessionmaker, [task.id]))[task.id].project_id == source.id
