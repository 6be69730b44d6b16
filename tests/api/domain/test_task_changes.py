"""Reading, changing and deleting one task through /api/v1/tasks/{id}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import assert_error, error_locs, parse_time, user_summary
from tests.support.tasks import TASK_FIELDS, TASKS, stored_task

# --- read ----------------------------------------------------------------------------------


async def test_get_returns_the_task_with_its_etag(client: AsyncClient, make: DomainFactory) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner, name="Ops")
    await make.member(project, viewer, "viewer")
    task = await make.task(project, created_by=owner, title="Rotate keys", assignee_id=viewer.id)

    response = await client.get(f"{TASKS}/{task.id}", headers=make.headers(viewer))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == TASK_FIELDS
    assert body["id"] == task.id
    assert body["title"] == "Rotate keys"
    assert body["project"] == {"id": project.id, "name": "Ops"}
    assert body["assignee"] == user_summary(viewer)
    assert body["created_by"] == user_summary(owner)
    assert response.headers["ETag"] == '"1"'


async def test_get_of_an_invisible_task_is_404_exactly_like_a_missing_one(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)
    task = await make.task(project)

    hidden = await client.get(f"{TASKS}/{task.id}", headers=make.headers(stranger))
    missing = await client.get(f"{TASKS}/{10**12}", headers=make.headers(stranger))

    body = assert_error(hidden, 404, "not_found")
    assert body["detail"] == assert_error(missing, 404, "not_found")["detail"]


async def test_an_admin_reads_any_task(client: AsyncClient, make: DomainFactory) -> None:
    owner, admin = await make(), await make.admin()
    task = await make.task(await make.project(owner))

    response = await client.get(f"{TASKS}/{task.id}", headers=make.headers(admin))

    assert response.status_code == 200, response.text
    assert response.json()["id"] == task.id


# --- change --------------------------------------------------------------------------------


async def test_patch_changes_only_the_given_fields_and_bumps_the_etag(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, editor = await make(), await make()
    project = await make.project(owner)
    await make.member(project, editor, "editor")
    task = await make.task(project, title="Old", description="keep me", priority=2)

    response = await client.patch(
        f"{TASKS}/{task.id}",
        json={"title": "  New  ", "priority": 4, "assignee_id": editor.id},
        headers=make.headers(editor),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["title"] == "New"
    assert body["priority"] == 4
    assert body["description"] == "keep me"
    assert body["assignee"] == user_summary(editor)
    # One write is one new version, however many fields it changes.
    assert response.headers["ETag"] == '"2"'
    assert parse_time(body["updated_at"]) > parse_time(body["created_at"])
    got = await client.get(f"{TASKS}/{task.id}", headers=make.headers(owner))
    assert got.json() == body
    assert got.headers["ETag"] == response.headers["ETag"]


async def test_patch_clears_description_due_date_and_assignee_with_null(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    task = await make.task(
        project,
        description="something",
        due_date=datetime.now(UTC) + timedelta(days=1),
        assignee_id=owner.id,
    )

    response = await client.patch(
        f"{TASKS}/{task.id}",
        json={"description": None, "due_date": None, "assignee_id": None},
        headers=make.headers(owner),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["description"], body["due_date"], body["assignee"]) == (None, None, None)


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"project_id": 1}, ["body", "project_id"]),
        ({"title": "   "}, ["body", "title"]),
        ({"title": None}, ["body", "title"]),
        ({"priority": 9}, ["body", "priority"]),
        ({"priority": None}, ["body", "priority"]),
        ({"is_completed": None}, ["body", "is_completed"]),
        ({"description": "d" * 10_001}, ["body", "description"]),
    ],
    ids=[
        "project_id",
        "blank-title",
        "null-title",
        "priority-9",
        "null-priority",
        "null-is_completed",
        "long-description",
    ],
)
async def test_patch_refuses_invalid_fields_with_422_and_changes_nothing(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    changes: dict[str, Any],
    loc: list[str],
) -> None:
    owner = await make()
    project, other = await make.project(owner), await make.project(owner)
    task = await make.task(project, title="Same", priority=2)

    if "project_id" in changes:
        changes = {"project_id": other.id}
    response = await client.patch(f"{TASKS}/{task.id}", json=changes, headers=make.headers(owner))

    assert loc in error_locs(response)
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert (stored.title, stored.priority, stored.project_id, stored.version) == (
        "Same",
        2,
        project.id,
        1,
    )


async def test_patch_refuses_an_assignee_outside_the_project_with_422(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, outsider = await make(), await make()
    project = await make.project(owner)
    await make.project(outsider)
    task = await make.task(project, assignee_id=owner.id)

    response = await client.patch(
        f"{TASKS}/{task.id}", json={"assignee_id": outsider.id}, headers=make.headers(owner)
    )

    assert error_locs(response) == [["body", "assignee_id"]]
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert stored.assignee_id == owner.id


async def test_patch_by_a_viewer_is_403_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")
    task = await make.task(project, title="Same")

    response = await client.patch(
        f"{TASKS}/{task.id}", json={"title": "Changed"}, headers=make.headers(viewer)
    )

    assert_error(response, 403, "forbidden")
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert stored.title == "Same"


async def test_patch_of_an_invisible_task_is_404_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, stranger = await make(), await make()
    task = await make.task(await make.project(owner), title="Same")

    response = await client.patch(
        f"{TASKS}/{task.id}", json={"title": "Mine now"}, headers=make.headers(stranger)
    )
    missing = await client.patch(
        f"{TASKS}/{10**12}", json={"title": "Mine now"}, headers=make.headers(stranger)
    )

    assert assert_error(response, 404, "not_found")["detail"] == missing.json()["detail"]
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert stored.title == "Same"


async def test_patch_in_an_archived_project_is_409_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner, is_archived=True), title="Same")

    response = await client.patch(
        f"{TASKS}/{task.id}", json={"title": "Changed"}, headers=make.headers(owner)
    )

    assert_error(response, 409, "project_archived")
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert stored.title == "Same"


async def test_completing_sets_completed_at_to_now(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner))
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=3)

    with time_machine.travel(moment, tick=False):
        response = await client.patch(
            f"{TASKS}/{task.id}", json={"is_completed": True}, headers=make.headers(owner)
        )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["is_completed"] is True
    assert parse_time(body["completed_at"]) == moment


async def test_reopening_clears_completed_at(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    done_at = datetime.now(UTC) - timedelta(days=2)
    task = await make.task(await make.project(owner), is_completed=True, completed_at=done_at)

    response = await client.patch(
        f"{TASKS}/{task.id}", json={"is_completed": False}, headers=make.headers(owner)
    )

    assert response.status_code == 200, response.text
    assert response.json()["is_completed"] is False
    assert response.json()["completed_at"] is None


async def test_completing_a_completed_task_keeps_its_first_completed_at(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    first = datetime.now(UTC).replace(microsecond=0)
    task = await make.task(await make.project(owner))
    headers = make.headers(owner)

    with time_machine.travel(first, tick=False):
        completed = await client.patch(
            f"{TASKS}/{task.id}", json={"is_completed": True}, headers=headers
        )
    with time_machine.travel(first + timedelta(minutes=5), tick=False):
        again = await client.patch(
            f"{TASKS}/{task.id}", json={"is_completed": True, "priority": 1}, headers=headers
        )

    assert completed.status_code == again.status_code == 200
    assert parse_time(completed.json()["completed_at"]) == first
    assert parse_time(again.json()["completed_at"]) == first
    assert again.json()["priority"] == 1
    assert again.json()["is_completed"] is True
    stored = await client.get(f"{TASKS}/{task.id}", headers=headers)
    assert stored.json()["is_completed"] is True


# --- delete --------------------------------------------------------------------------------


async def test_delete_by_an_editor_is_204_and_the_task_is_gone(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, editor = await make(), await make()
    project = await make.project(owner)
    await make.member(project, editor, "editor")
    task = await make.task(project)

    response = await client.delete(f"{TASKS}/{task.id}", headers=make.headers(editor))

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert await stored_task(sessionmaker, task.id) is None
    gone = await client.get(f"{TASKS}/{task.id}", headers=make.headers(owner))
    assert_error(gone, 404, "not_found")


async def test_delete_by_a_viewer_is_403_and_keeps_the_task(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")
    task = await make.task(project)

    response = await client.delete(f"{TASKS}/{task.id}", headers=make.headers(viewer))

    assert_error(response, 403, "forbidden")
    assert await stored_task(sessionmaker, task.id) is not None


async def test_delete_of_an_invisible_task_is_404_and_keeps_it(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, stranger = await make(), await make()
    task = await make.task(await make.project(owner))

    response = await client.delete(f"{TASKS}/{task.id}", headers=make.headers(stranger))

    assert_error(response, 404, "not_found")
    assert await stored_task(sessionmaker, task.id) is not None


async def test_delete_in_an_archived_project_is_409_and_keeps_the_task(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner, is_archived=True))

    response = await client.delete(f"{TASKS}/{task.id}", headers=make.headers(owner))

    assert_error(response, 409, "project_archived")
    assert await stored_task(sessionmaker, task.id) is not None
