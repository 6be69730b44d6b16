"""Creating tasks through POST /api/v1/tasks: the stored task, its defaults and refused input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import assert_error, error_locs, parse_time, user_summary
from tests.support.tasks import TASK_FIELDS, TASKS, count_tasks

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
