"""Changing, archiving and deleting a project."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.projects.models import Project, ProjectMember
from taskflow.tasks.models import Task
from taskflow.users.models import User
from tests.factories import DomainFactory
from tests.support.api import assert_error, error_locs, user_summary
from tests.support.projects import (
    PROJECTS,
    T0,
    ids,
    stored_project,
)

# --- update --------------------------------------------------------------------------------


async def test_owner_renames_and_describes_a_project(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    with time_machine.travel(T0, tick=False):
        project = await make.project(owner, name="Old", description="old text")
    later = T0 + timedelta(hours=5)

    with time_machine.travel(later, tick=False):
        response = await client.patch(
            f"{PROJECTS}/{project.id}",
            json={"name": "  New  ", "description": "new text"},
            headers=make.headers(owner),
        )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "New"
    assert body["description"] == "new text"
    assert body["my_role"] == "owner"
    assert datetime.fromisoformat(body["created_at"]) == T0
    assert datetime.fromisoformat(body["updated_at"]) == later
    assert response.headers["ETag"] == '"2"'
    stored = await stored_project(sessionmaker, project.id)
    assert stored is not None
    assert (stored.name, stored.description, stored.version) == ("New", "new text", 2)


async def test_patch_keeps_fields_left_out_and_clears_description_with_null(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner, name="Keep me", description="drop me")

    response = await client.patch(
        f"{PROJECTS}/{project.id}", json={"description": None}, headers=make.headers(owner)
    )

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Keep me"
    assert response.json()["description"] is None
    assert response.json()["is_archived"] is False


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": ""}, ["body", "name"]),
        ({"name": "  "}, ["body", "name"]),
        ({"name": None}, ["body", "name"]),
        ({"name": "n" * 201}, ["body", "name"]),
        ({"description": "d" * 5001}, ["body", "description"]),
        ({"is_archived": None}, ["body", "is_archived"]),
        ({"owner_id": 1}, ["body", "owner_id"]),
        ({"version": 7}, ["body", "version"]),
    ],
    ids=[
        "empty-name",
        "blank-name",
        "null-name",
        "long-name",
        "long-description",
        "null-is_archived",
        "unknown-owner_id",
        "unknown-version",
    ],
)
async def test_patch_refuses_an_invalid_body_and_changes_nothing(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
    loc: list[str],
) -> None:
    owner = await make()
    project = await make.project(owner, name="Stable")

    response = await client.patch(
        f"{PROJECTS}/{project.id}", json=body, headers=make.headers(owner)
    )

    assert loc in error_locs(response)
    stored = await stored_project(sessionmaker, project.id)
    assert stored is not None
    assert (stored.name, stored.owner_id, stored.version) == ("Stable", owner.id, 1)


@pytest.mark.parametrize("role", ["editor", "viewer"])
@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_member_may_not_change_or_delete_the_project(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    role: str,
    method: str,
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner, name="Owned")
    await make.member(project, member, role)
    kwargs: dict[str, Any] = {"json": {"name": "Taken"}} if method == "PATCH" else {}

    response = await client.request(
        method, f"{PROJECTS}/{project.id}", headers=make.headers(member), **kwargs
    )

    body = assert_error(response, 403, "forbidden")
    assert body["detail"] == "Only the project owner or an administrator may do this"
    stored = await stored_project(sessionmaker, project.id)
    assert stored is not None
    assert (stored.name, stored.version) == ("Owned", 1)


async def test_admin_changes_and_deletes_another_users_project(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin, owner = await make.admin(), await make()
    project = await make.project(owner)
    headers = make.headers(admin)

    renamed = await client.patch(
        f"{PROJECTS}/{project.id}", json={"name": "By admin"}, headers=headers
    )
    deleted = await client.delete(f"{PROJECTS}/{project.id}", headers=headers)

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "By admin"
    assert renamed.json()["my_role"] == "admin"
    assert renamed.json()["owner"] == user_summary(owner)
    assert deleted.status_code == 204, deleted.text
    assert await stored_project(sessionmaker, project.id) is None


# --- archive -------------------------------------------------------------------------------


async def test_archiving_hides_the_project_and_blocks_task_writes_until_unarchived(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    url = f"{PROJECTS}/{project.id}"

    archived = await client.patch(url, json={"is_archived": True}, headers=headers)
    listed = await client.get(PROJECTS, headers=headers)
    listed_all = await client.get(PROJECTS, params={"include_archived": "true"}, headers=headers)
    still_readable = await client.get(url, headers=headers)
    blocked = await client.post(
        "/api/v1/tasks", json={"title": "t", "project_id": project.id}, headers=headers
    )

    assert archived.status_code == 200, archived.text
    assert archived.json()["is_archived"] is True
    assert ids(listed) == []
    assert ids(listed_all) == [project.id]
    assert still_readable.json()["is_archived"] is True
    assert_error(blocked, 409, "project_archived")

    unarchived = await client.patch(url, json={"is_archived": False}, headers=headers)
    created = await client.post(
        "/api/v1/tasks", json={"title": "t", "project_id": project.id}, headers=headers
    )

    assert unarchived.status_code == 200, unarchived.text
    assert unarchived.json()["is_archived"] is False
    assert ids(await client.get(PROJECTS, headers=headers)) == [project.id]
    assert created.status_code == 201, created.text


async def test_archived_project_can_still_be_renamed(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner, is_archived=True)

    response = await client.patch(
        f"{PROJECTS}/{project.id}", json={"name": "Renamed"}, headers=make.headers(owner)
    )

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Renamed"
    assert response.json()["is_archived"] is True


@pytest.mark.parametrize("role", ["editor", "viewer"])
async def test_member_may_not_archive_the_project(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    role: str,
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, role)

    response = await client.patch(
        f"{PROJECTS}/{project.id}", json={"is_archived": True}, headers=make.headers(member)
    )

    assert_error(response, 403, "forbidden")
    stored = await stored_project(sessionmaker, project.id)
    assert stored is not None
    assert stored.is_archived is False


# --- delete --------------------------------------------------------------------------------


async def test_delete_project_removes_it_with_its_tasks_and_memberships(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "editor")
    tasks = await make.tasks(project, 3)
    other_project = await make.project(owner)
    kept_task = await make.task(other_project)
    headers = make.headers(owner)

    response = await client.delete(f"{PROJECTS}/{project.id}", headers=headers)

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_error(await client.get(f"{PROJECTS}/{project.id}", headers=headers), 404, "not_found")
    gone = await client.get(f"/api/v1/tasks/{tasks[0].id}", headers=headers)
    assert_error(gone, 404, "not_found")
    kept = await client.get(f"/api/v1/tasks/{kept_task.id}", headers=headers)
    assert kept.status_code == 200, kept.text
    async with sessionmaker() as session:
        assert await session.get(Project, project.id) is None
        task_ids = await session.scalars(select(Task.id).where(Task.project_id == project.id))
        assert list(task_ids) == []
        members = await session.scalars(
            select(ProjectMember.user_id).where(ProjectMember.project_id == project.id)
        )
        assert list(members) == []
        assert await session.get(Task, kept_task.id) is not None
        assert await session.get(User, member.id) is not None


async def test_delete_project_twice_answers_404(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)

    first = await client.delete(f"{PROJECTS}/{project.id}", headers=headers)
    second = await client.delete(f"{PROJECTS}/{project.id}", headers=headers)

    assert first.status_code == 204, first.text
    assert_error(second, 404, "not_found")


async def test_deleted_project_leaves_the_members_list(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "viewer")

    deleted = await client.delete(f"{PROJECTS}/{project.id}", headers=make.headers(owner))
    listed = await client.get(PROJECTS, headers=make.headers(member))

    assert deleted.status_code == 204, deleted.text
    assert ids(listed) == []
