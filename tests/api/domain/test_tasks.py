"""/api/v1/tasks: create, read, change and delete one task; ETag and If-Match (with the
race of two writers); Idempotency-Key on create; API key scopes; 401 on every route."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi import FastAPI
from httpx import AsyncClient, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.core.idempotency import IdempotencyRecord
from taskflow.tasks.models import Task
from taskflow.users.models import User
from tests.factories import DomainFactory

TASKS = "/api/v1/tasks"
TASK_FIELDS = {
    "id",
    "title",
    "description",
    "priority",
    "is_completed",
    "completed_at",
    "due_date",
    "project",
    "assignee",
    "created_by",
    "created_at",
    "updated_at",
}
USER_FIELDS = {"id", "email", "full_name"}
ERROR_FIELDS = {"detail", "error", "request_id"}


# --- helpers -------------------------------------------------------------------------------


def assert_error(response: Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_FIELDS
    assert body["error"] == error
    return body


def error_locs(response: Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [item["loc"] for item in response.json()["detail"]]


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def user_summary(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "full_name": user.full_name}


async def stored_task(sessionmaker: async_sessionmaker[AsyncSession], task_id: int) -> Task | None:
    async with sessionmaker() as session:
        return await session.get(Task, task_id)


async def count_tasks(sessionmaker: async_sessionmaker[AsyncSession], **where: Any) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).select_from(Task).filter_by(**where)
        return int(await session.scalar(query) or 0)


async def create_key(client: AsyncClient, user_headers: dict[str, str], *scopes: str) -> str:
    response = await client.post(
        "/api/v1/api-keys", json={"name": "script", "scopes": list(scopes)}, headers=user_headers
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


# --- create --------------------------------------------------------------------------------


async def test_create_returns_201_with_the_full_task_body_and_an_etag(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner, name="Launch")
    await make.member(project, member, "editor")
    due = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)

    response = await client.post(
        TASKS,
        json={
            "title": "Write the plan",
            "description": "All of it",
            "project_id": project.id,
            "priority": 5,
            "due_date": due.isoformat(),
            "assignee_id": member.id,
        },
        headers=make.headers(owner),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == TASK_FIELDS
    assert body["title"] == "Write the plan"
    assert body["description"] == "All of it"
    assert body["priority"] == 5
    assert body["is_completed"] is False
    assert body["completed_at"] is None
    assert parse_time(body["due_date"]) == due
    assert body["project"] == {"id": project.id, "name": "Launch"}
    assert body["assignee"] == user_summary(member)
    assert body["created_by"] == user_summary(owner)
    assert parse_time(body["created_at"]) <= parse_time(body["updated_at"])
    assert response.headers["ETag"] == '"1"'
    got = await client.get(f"{TASKS}/{body['id']}", headers=make.headers(member))
    assert got.status_code == 200
    assert got.json() == body


async def test_create_trims_the_title_and_defaults_priority_to_3_and_no_assignee(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.post(
        TASKS, json={"title": "  Tidy up  ", "project_id": project.id}, headers=make.headers(owner)
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["title"] == "Tidy up"
    assert body["priority"] == 3
    assert body["assignee"] is None
    assert body["description"] is None
    assert body["due_date"] is None


@pytest.mark.parametrize(
    "due_date", ["2031-01-02T03:04:05", "2031-01-02", 1924999999, "1924999999"]
)
async def test_create_refuses_a_due_date_without_an_offset_or_as_a_number(
    client: AsyncClient, make: DomainFactory, due_date: object
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.post(
        TASKS,
        json={"title": "t", "project_id": project.id, "due_date": due_date},
        headers=make.headers(owner),
    )

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "due_date"]


async def test_create_converts_a_due_date_with_an_offset_to_the_same_instant(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.post(
        TASKS,
        json={"title": "t", "project_id": project.id, "due_date": "2031-01-02T05:04:05+02:00"},
        headers=make.headers(owner),
    )

    assert response.status_code == 201, response.text
    assert parse_time(response.json()["due_date"]) == datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"title": ""}, ["body", "title"]),
        ({"title": "   "}, ["body", "title"]),
        ({"title": "x" * 201}, ["body", "title"]),
        ({"description": "d" * 10_001}, ["body", "description"]),
        ({"priority": 0}, ["body", "priority"]),
        ({"priority": 6}, ["body", "priority"]),
        ({"due_date": "next tuesday"}, ["body", "due_date"]),
        ({"owner_id": 1}, ["body", "owner_id"]),
    ],
    ids=[
        "empty-title",
        "blank-title",
        "long-title",
        "long-description",
        "priority-0",
        "priority-6",
        "bad-due-date",
        "unknown-field",
    ],
)
async def test_create_refuses_invalid_fields_with_422_and_stores_nothing(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    changes: dict[str, Any],
    loc: list[str],
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.post(
        TASKS,
        json={"title": "ok", "project_id": project.id, **changes},
        headers=make.headers(owner),
    )

    assert loc in error_locs(response)
    assert await count_tasks(sessionmaker, project_id=project.id) == 0


async def test_create_accepts_the_longest_title_and_description(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.post(
        TASKS,
        json={"title": "x" * 200, "description": "d" * 10_000, "project_id": project.id},
        headers=make.headers(owner),
    )

    assert response.status_code == 201, response.text
    assert len(response.json()["title"]) == 200


async def test_create_refuses_an_assignee_outside_the_project_with_422(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, member, outsider = await make(), await make(), await make()
    project = await make.project(owner)
    # A project with members: the outsider must not pass as one of them.
    await make.member(project, member, "editor")

    response = await client.post(
        TASKS,
        json={"title": "t", "project_id": project.id, "assignee_id": outsider.id},
        headers=make.headers(owner),
    )

    assert error_locs(response) == [["body", "assignee_id"]]
    assert response.json()["detail"][0]["msg"] == (
        "The assignee must be the owner or a member of the project"
    )
    assert await count_tasks(sessionmaker, project_id=project.id) == 0


async def test_create_refuses_a_deactivated_member_as_assignee_with_422(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, gone = await make(), await make(is_active=False)
    project = await make.project(owner)
    await make.member(project, gone, "editor")

    response = await client.post(
        TASKS,
        json={"title": "t", "project_id": project.id, "assignee_id": gone.id},
        headers=make.headers(owner),
    )

    assert error_locs(response) == [["body", "assignee_id"]]
    assert await count_tasks(sessionmaker, project_id=project.id) == 0


async def test_create_accepts_the_owner_and_a_viewer_as_assignees(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, editor, viewer = await make(), await make(), await make()
    project = await make.project(owner)
    await make.member(project, editor, "editor")
    await make.member(project, viewer, "viewer")

    for assignee in (owner, viewer):
        response = await client.post(
            TASKS,
            json={"title": "t", "project_id": project.id, "assignee_id": assignee.id},
            headers=make.headers(editor),
        )
        assert response.status_code == 201, response.text
        assert response.json()["assignee"] == user_summary(assignee)
        assert response.json()["created_by"] == user_summary(editor)


async def test_create_in_a_project_the_caller_cannot_see_is_404_like_a_missing_one(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)

    hidden = await client.post(
        TASKS, json={"title": "t", "project_id": project.id}, headers=make.headers(stranger)
    )
    missing = await client.post(
        TASKS, json={"title": "t", "project_id": 10**12}, headers=make.headers(stranger)
    )

    assert (
        assert_error(hidden, 404, "not_found")["detail"]
        == (assert_error(missing, 404, "not_found")["detail"])
    )
    assert await count_tasks(sessionmaker, project_id=project.id) == 0


async def test_an_admin_creates_a_task_in_a_project_it_is_not_part_of(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, admin = await make(), await make.admin()
    project = await make.project(owner, name="Theirs")

    response = await client.post(
        TASKS,
        json={"title": "t", "project_id": project.id, "assignee_id": owner.id},
        headers=make.headers(admin),
    )

    assert response.status_code == 201, response.text
    assert response.json()["project"] == {"id": project.id, "name": "Theirs"}
    assert response.json()["assignee"] == user_summary(owner)
    assert await count_tasks(sessionmaker, project_id=project.id) == 1


async def test_create_as_viewer_is_403(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")

    response = await client.post(
        TASKS, json={"title": "t", "project_id": project.id}, headers=make.headers(viewer)
    )

    body = assert_error(response, 403, "forbidden")
    assert body["detail"] == "Viewers cannot change the tasks of this project"
    assert await count_tasks(sessionmaker, project_id=project.id) == 0


async def test_create_in_an_archived_project_is_409_project_archived(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner, is_archived=True)

    response = await client.post(
        TASKS, json={"title": "t", "project_id": project.id}, headers=make.headers(owner)
    )

    assert_error(response, 409, "project_archived")
    assert await count_tasks(sessionmaker, project_id=project.id) == 0


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


# --- ETag and If-Match ---------------------------------------------------------------------


async def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner), title="Original")
    headers = make.headers(owner)
    first = await client.patch(
        f"{TASKS}/{task.id}", json={"title": "Second"}, headers={**headers, "If-Match": '"1"'}
    )
    assert first.status_code == 200
    assert first.headers["ETag"] == '"2"'

    stale = await client.patch(
        f"{TASKS}/{task.id}", json={"title": "Lost"}, headers={**headers, "If-Match": '"1"'}
    )

    assert_error(stale, 412, "precondition_failed")
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert (stored.title, stored.version) == ("Second", 2)


async def test_patch_with_the_current_etag_in_a_list_or_star_goes_through(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner), priority=3)
    headers = make.headers(owner)

    listed = await client.patch(
        f"{TASKS}/{task.id}", json={"priority": 1}, headers={**headers, "If-Match": '"7", "1"'}
    )
    star = await client.patch(
        f"{TASKS}/{task.id}", json={"priority": 2}, headers={**headers, "If-Match": "*"}
    )

    assert listed.status_code == 200, listed.text
    assert star.status_code == 200, star.text
    assert star.headers["ETag"] == '"3"'


async def test_a_weak_etag_never_matches_if_match(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner), priority=3)
    headers = {**make.headers(owner), "If-Match": 'W/"1"'}

    patched = await client.patch(f"{TASKS}/{task.id}", json={"priority": 1}, headers=headers)
    deleted = await client.delete(f"{TASKS}/{task.id}", headers=headers)

    assert_error(patched, 412, "precondition_failed")
    assert_error(deleted, 412, "precondition_failed")
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert (stored.priority, stored.version) == (3, 1)


@pytest.mark.parametrize("writer", ["owner", "admin outside the project"])
async def test_writes_without_if_match_go_through(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    writer: str,
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner), title="Old")
    headers = make.headers(owner if writer == "owner" else await make.admin())

    patched = await client.patch(f"{TASKS}/{task.id}", json={"title": "New"}, headers=headers)
    deleted = await client.delete(f"{TASKS}/{task.id}", headers=headers)

    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "New"
    assert patched.headers["ETag"] == '"2"'
    assert deleted.status_code == 204, deleted.text
    assert await stored_task(sessionmaker, task.id) is None


async def test_delete_with_a_stale_if_match_is_412_and_keeps_the_task(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner), title="Old")
    changed = await client.patch(
        f"{TASKS}/{task.id}", json={"title": "New"}, headers=make.headers(owner)
    )
    assert changed.headers["ETag"] == '"2"'

    stale = await client.delete(
        f"{TASKS}/{task.id}", headers={**make.headers(owner), "If-Match": '"1"'}
    )

    assert_error(stale, 412, "precondition_failed")
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert (stored.title, stored.version) == ("New", 2)


async def test_delete_with_the_current_etag_is_204(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner))
    got = await client.get(f"{TASKS}/{task.id}", headers=make.headers(owner))

    response = await client.delete(
        f"{TASKS}/{task.id}", headers={**make.headers(owner), "If-Match": got.headers["ETag"]}
    )

    assert response.status_code == 204, response.text
    assert await stored_task(sessionmaker, task.id) is None


async def test_two_concurrent_patches_with_one_etag_exactly_one_wins(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, editor = await make(), await make()
    project = await make.project(owner)
    await make.member(project, editor, "editor")
    task = await make.task(project, title="Original")
    etag = (await client.get(f"{TASKS}/{task.id}", headers=make.headers(owner))).headers["ETag"]

    responses = await asyncio.gather(
        client.patch(
            f"{TASKS}/{task.id}",
            json={"title": "By owner"},
            headers={**make.headers(owner), "If-Match": etag},
        ),
        client.patch(
            f"{TASKS}/{task.id}",
            json={"title": "By editor"},
            headers={**make.headers(editor), "If-Match": etag},
        ),
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 412], [response.text for response in responses]
    winner = next(response for response in responses if response.status_code == 200)
    loser = next(response for response in responses if response.status_code == 412)
    assert_error(loser, 412, "precondition_failed")
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert stored.title == winner.json()["title"]
    assert stored.version == 2
    assert winner.headers["ETag"] == '"2"'


@pytest.mark.parametrize(
    "caller",
    [
        "from the database",  # the request's transaction begins with the caller's row
        pytest.param("cached", marks=pytest.mark.settings(redis_url="from-fixture")),
    ],
)
async def test_concurrent_changes_without_if_match_each_apply_to_the_latest_version(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    caller: str,
) -> None:
    # Without If-Match a change is not refused because another landed first: it is based
    # again on the task as it then is, in a transaction or statement by statement.
    owner = await make()
    task = await make.task(await make.project(owner), title="Original")
    changes = 6

    responses = await asyncio.gather(
        *(
            client.patch(
                f"{TASKS}/{task.id}", json={"title": f"Change {n}"}, headers=make.headers(owner)
            )
            for n in range(changes)
        )
    )

    assert [r.status_code for r in responses] == [200] * changes, [r.text for r in responses]
    versions = sorted(int(r.headers["ETag"].strip('"')) for r in responses)
    assert versions == list(range(2, changes + 2))
    last = next(r for r in responses if r.headers["ETag"] == f'"{changes + 1}"')
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert (stored.title, stored.version) == (last.json()["title"], changes + 1)


# --- Idempotency-Key -----------------------------------------------------------------------


async def stored_idempotency_keys(
    sessionmaker: async_sessionmaker[AsyncSession], user: User
) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).select_from(IdempotencyRecord).filter_by(user_id=user.id)
        return int(await session.scalar(query) or 0)


async def _replays_the_first_create(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    in_redis: bool,
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = {**make.headers(owner), "Idempotency-Key": "create-task-1"}
    body = {"title": "Once", "project_id": project.id}

    first = await client.post(TASKS, json=body, headers=headers)
    again = await client.post(
        TASKS, json={"title": "  Once ", "project_id": project.id, "priority": 3}, headers=headers
    )

    assert first.status_code == again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert await count_tasks(sessionmaker, project_id=project.id) == 1
    assert await stored_idempotency_keys(sessionmaker, owner) == (0 if in_redis else 1)


async def _refuses_the_key_with_another_body(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = {**make.headers(owner), "Idempotency-Key": "create-task-2"}
    first = await client.post(TASKS, json={"title": "A", "project_id": project.id}, headers=headers)

    other = await client.post(TASKS, json={"title": "B", "project_id": project.id}, headers=headers)

    assert first.status_code == 201
    assert error_locs(other) == [["header", "Idempotency-Key"]]
    assert await count_tasks(sessionmaker, project_id=project.id) == 1


async def _keeps_keys_per_user(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, editor = await make(), await make()
    project = await make.project(owner)
    await make.member(project, editor, "editor")
    body = {"title": "Same", "project_id": project.id}

    mine = await client.post(
        TASKS, json=body, headers={**make.headers(owner), "Idempotency-Key": "shared"}
    )
    theirs = await client.post(
        TASKS, json=body, headers={**make.headers(editor), "Idempotency-Key": "shared"}
    )

    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["created_by"]["id"] == editor.id
    assert await count_tasks(sessionmaker, project_id=project.id) == 2


async def test_idempotency_key_replays_the_first_create_in_the_database_store(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _replays_the_first_create(client, make, sessionmaker, in_redis=False)


async def test_idempotency_key_with_another_body_is_422_in_the_database_store(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _refuses_the_key_with_another_body(client, make, sessionmaker)


async def test_idempotency_keys_are_per_user_in_the_database_store(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _keeps_keys_per_user(client, make, sessionmaker)


@pytest.mark.settings(redis_url="from-fixture")
async def test_idempotency_key_replays_the_first_create_in_the_redis_store(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _replays_the_first_create(client, make, sessionmaker, in_redis=True)


@pytest.mark.settings(redis_url="from-fixture")
async def test_idempotency_key_with_another_body_is_422_in_the_redis_store(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _refuses_the_key_with_another_body(client, make, sessionmaker)


@pytest.mark.settings(redis_url="from-fixture")
async def test_idempotency_keys_are_per_user_in_the_redis_store(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _keeps_keys_per_user(client, make, sessionmaker)


@pytest.mark.parametrize(
    "store",
    [
        "database",
        pytest.param("redis", marks=pytest.mark.settings(redis_url="from-fixture")),
    ],
)
async def test_a_failed_create_does_not_spend_its_idempotency_key(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    app: FastAPI,
    store: str,
) -> None:
    assert (app.state.redis is not None) == (store == "redis")
    owner = await make()
    project = await make.project(owner, is_archived=True)
    headers = {**make.headers(owner), "Idempotency-Key": "retry-after-unarchive"}
    body = {"title": "Later", "project_id": project.id}
    refused = await client.post(TASKS, json=body, headers=headers)
    unarchived = await client.patch(
        f"/api/v1/projects/{project.id}", json={"is_archived": False}, headers=make.headers(owner)
    )

    retried = await client.post(TASKS, json=body, headers=headers)

    assert_error(refused, 409, "project_archived")
    assert unarchived.status_code == 200, unarchived.text
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    assert await count_tasks(sessionmaker, project_id=project.id) == 1


# --- credentials and scopes ----------------------------------------------------------------


async def test_a_tasks_read_key_lists_and_reads_but_may_not_write(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    task = await make.task(project, title="Same")
    key = {"X-API-Key": await create_key(client, make.headers(owner), "tasks:read")}

    listed = await client.get(TASKS, headers=key)
    got = await client.get(f"{TASKS}/{task.id}", headers=key)
    writes = [
        await client.post(TASKS, json={"title": "t", "project_id": project.id}, headers=key),
        await client.patch(f"{TASKS}/{task.id}", json={"title": "x"}, headers=key),
        await client.delete(f"{TASKS}/{task.id}", headers=key),
        await client.post(
            f"{TASKS}/bulk-update",
            json={"task_ids": [task.id], "update_data": {"priority": 1}},
            headers=key,
        ),
        await client.post(f"{TASKS}/{task.id}/move", json={"project_id": project.id}, headers=key),
    ]

    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()] == [task.id]
    assert got.status_code == 200, got.text
    for response in writes:
        assert_error(response, 403, "insufficient_scope")
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert (stored.title, stored.version) == ("Same", 1)
    assert await count_tasks(sessionmaker, project_id=project.id) == 1


async def test_a_tasks_write_key_creates_changes_and_deletes(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    key = {"X-API-Key": await create_key(client, make.headers(owner), "tasks:read", "tasks:write")}

    created = await client.post(TASKS, json={"title": "t", "project_id": project.id}, headers=key)
    task_id = created.json()["id"]
    patched = await client.patch(f"{TASKS}/{task_id}", json={"title": "u"}, headers=key)
    bulk = await client.post(
        f"{TASKS}/bulk-update",
        json={"task_ids": [task_id], "update_data": {"priority": 1}},
        headers=key,
    )
    deleted = await client.delete(f"{TASKS}/{task_id}", headers=key)

    assert created.status_code == 201, created.text
    assert patched.status_code == 200, patched.text
    assert bulk.status_code == 200, bulk.text
    assert deleted.status_code == 204, deleted.text


async def test_a_key_without_task_scopes_may_not_read_tasks(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner))
    key = {"X-API-Key": await create_key(client, make.headers(owner), "projects:read")}

    listed = await client.get(TASKS, headers=key)
    got = await client.get(f"{TASKS}/{task.id}", headers=key)

    assert_error(listed, 403, "insufficient_scope")
    assert_error(got, 403, "insufficient_scope")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("POST", "", {"title": "t", "project_id": 1}),
        ("GET", "/{id}", None),
        ("PATCH", "/{id}", {"title": "t"}),
        ("DELETE", "/{id}", None),
        ("POST", "/bulk-update", {"task_ids": ["{id}"], "update_data": {"priority": 1}}),
        ("POST", "/{id}/move", {"project_id": 1}),
    ],
    ids=["list", "create", "read", "patch", "delete", "bulk-update", "move"],
)
async def test_every_task_route_answers_401_without_credentials(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    owner = await make()
    project = await make.project(owner)
    task = await make.task(project, title="Same")
    if body is not None:
        body = {
            name: (
                [task.id] if name == "task_ids" else project.id if name == "project_id" else value
            )
            for name, value in body.items()
        }

    response = await client.request(method, TASKS + path.format(id=task.id), json=body)

    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert (stored.title, stored.version) == ("Same", 1)


async def test_an_invalid_bearer_token_is_401(client: AsyncClient) -> None:
    response = await client.get(TASKS, headers={"Authorization": "Bearer not-a-token"})

    assert_error(response, 401, "invalid_token")
