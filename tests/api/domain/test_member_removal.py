"""Removing a member and leaving a project, and members of projects a user cannot see (BOLA)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.projects.models import Project, ProjectMember
from taskflow.tasks.models import Task
from tests.factories import DomainFactory
from tests.support.api import assert_error
from tests.support.members import T0, listed, members_url, stored_roles
from tests.support.projects import PROJECTS

# --- remove and leave ----------------------------------------------------------------------


async def test_owner_removes_a_member_who_loses_access(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "editor")

    response = await client.delete(members_url(project, member.id), headers=make.headers(owner))

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert await stored_roles(sessionmaker, project) == {}
    lost = await client.get(f"{PROJECTS}/{project.id}", headers=make.headers(member))
    assert_error(lost, 404, "not_found")
    members = await client.get(members_url(project), headers=make.headers(owner))
    assert listed(members) == [(owner.id, "owner")]


async def test_removing_a_member_unassigns_its_tasks_in_that_project_only(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, member, colleague = await make(), await make(), await make()
    project = await make.project(owner)
    other_project = await make.project(owner)
    await make.member(project, member, "editor")
    await make.member(project, colleague, "editor")
    await make.member(other_project, member, "editor")
    theirs = await make.task(project, assignee_id=member.id)
    colleagues = await make.task(project, assignee_id=colleague.id)
    elsewhere = await make.task(other_project, assignee_id=member.id)

    response = await client.delete(members_url(project, member.id), headers=make.headers(owner))

    assert response.status_code == 204, response.text
    async with sessionmaker() as session:
        rows = await session.execute(select(Task.id, Task.assignee_id, Task.version))
        stored = {task_id: (assignee_id, version) for task_id, assignee_id, version in rows}
    # Unassigning is a change of the task: its version (and so its ETag) moves on by one.
    assert stored == {
        theirs.id: (None, 2),
        colleagues.id: (colleague.id, 1),
        elsewhere.id: (member.id, 1),
    }
    read = await client.get(f"/api/v1/tasks/{theirs.id}", headers=make.headers(owner))
    assert read.status_code == 200, read.text
    assert read.json()["assignee"] is None


async def test_admin_removes_a_member_from_another_users_project(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin, owner, member = await make.admin(), await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "viewer")

    response = await client.delete(members_url(project, member.id), headers=make.headers(admin))

    assert response.status_code == 204, response.text
    assert await stored_roles(sessionmaker, project) == {}


@pytest.mark.parametrize("role", ["editor", "viewer"])
async def test_member_leaves_the_project(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    role: str,
) -> None:
    owner, member, other = await make(), await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, role)
    await make.member(project, other, "viewer")
    task = await make.task(project, assignee_id=member.id)

    response = await client.delete(members_url(project, member.id), headers=make.headers(member))

    assert response.status_code == 204, response.text
    assert await stored_roles(sessionmaker, project) == {other.id: "viewer"}
    listing = await client.get(PROJECTS, headers=make.headers(member))
    assert listing.json() == []
    async with sessionmaker() as session:
        stored = await session.get(Task, task.id)
        assert stored is not None
        assert stored.assignee_id is None


@pytest.mark.parametrize("role", ["editor", "viewer"])
async def test_member_may_not_remove_another_member(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    role: str,
) -> None:
    owner, member, other = await make(), await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, role)
    await make.member(project, other, "viewer")

    response = await client.delete(members_url(project, other.id), headers=make.headers(member))

    assert_error(response, 403, "forbidden")
    assert await stored_roles(sessionmaker, project) == {member.id: role, other.id: "viewer"}


@pytest.mark.parametrize("target", ["stranger", "owner", "missing"])
async def test_removing_a_non_member_answers_404(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    target: str,
) -> None:
    owner, stranger, member = await make(), await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "viewer")
    # The stranger is a member elsewhere, which must not count for this project.
    await make.member(await make.project(owner), stranger, "editor")
    user_id = {"stranger": stranger.id, "owner": owner.id, "missing": 987_654_321}[target]

    response = await client.delete(members_url(project, user_id), headers=make.headers(owner))

    assert_error(response, 404, "not_found")
    assert await stored_roles(sessionmaker, project) == {member.id: "viewer"}
    async with sessionmaker() as session:
        assert await session.get(Project, project.id) is not None


async def test_removing_a_member_twice_answers_404(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "viewer")
    headers = make.headers(owner)

    first = await client.delete(members_url(project, member.id), headers=headers)
    second = await client.delete(members_url(project, member.id), headers=headers)

    assert first.status_code == 204, first.text
    assert_error(second, 404, "not_found")


async def test_archived_project_still_lets_members_be_changed_and_removed(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, changed, removed = await make(), await make(), await make()
    project = await make.project(owner, is_archived=True)
    await make.member(project, changed, "viewer")
    await make.member(project, removed, "viewer")
    headers = make.headers(owner)

    patched = await client.patch(
        members_url(project, changed.id), json={"role": "editor"}, headers=headers
    )
    deleted = await client.delete(members_url(project, removed.id), headers=headers)

    assert patched.status_code == 200, patched.text
    assert deleted.status_code == 204, deleted.text
    assert await stored_roles(sessionmaker, project) == {changed.id: "editor"}


# --- BOLA ----------------------------------------------------------------------------------


async def test_another_user_never_reads_or_manages_my_members(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    alice, member, bob = await make(), await make(), await make()
    project = await make.project(alice)
    await make.member(project, member, "viewer")
    task = await make.task(project, assignee_id=member.id)
    bob_headers = make.headers(bob)

    listing = await client.get(members_url(project), headers=bob_headers)
    joined = await client.post(
        members_url(project), json={"email": bob.email, "role": "editor"}, headers=bob_headers
    )
    promoted = await client.patch(
        members_url(project, member.id), json={"role": "editor"}, headers=bob_headers
    )
    removed = await client.delete(members_url(project, member.id), headers=bob_headers)

    for response in (listing, joined, promoted, removed):
        assert_error(response, 404, "not_found")
    assert member.email not in listing.text
    assert await stored_roles(sessionmaker, project) == {member.id: "viewer"}
    async with sessionmaker() as session:
        stored = await session.get(Task, task.id)
        assert stored is not None
        assert stored.assignee_id == member.id


async def test_former_member_cannot_manage_members_after_leaving(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, leaver, other = await make(), await make(), await make()
    project = await make.project(owner)
    await make.member(project, leaver, "editor")
    await make.member(project, other, "viewer")
    headers = make.headers(leaver)

    left = await client.delete(members_url(project, leaver.id), headers=headers)
    again = await client.delete(members_url(project, other.id), headers=headers)
    listing = await client.get(members_url(project), headers=headers)

    assert left.status_code == 204, left.text
    assert_error(again, 404, "not_found")
    assert_error(listing, 404, "not_found")
    assert await stored_roles(sessionmaker, project) == {other.id: "viewer"}


async def test_member_of_one_project_cannot_reach_the_members_of_another(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, insider, outsider_member = await make(), await make(), await make()
    shared = await make.project(owner)
    private = await make.project(owner)
    await make.member(shared, insider, "editor")
    await make.member(private, outsider_member, "viewer")
    headers = make.headers(insider)

    listing = await client.get(members_url(private), headers=headers)
    removed = await client.delete(members_url(private, outsider_member.id), headers=headers)

    assert_error(listing, 404, "not_found")
    assert_error(removed, 404, "not_found")
    assert await stored_roles(sessionmaker, private) == {outsider_member.id: "viewer"}


async def test_member_added_at_is_when_it_was_added(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, first, second = await make(), await make(), await make()
    project = await make.project(owner)
    async with make.sessionmaker() as session:
        session.add_all(
            [
                ProjectMember(
                    project_id=project.id,
                    user_id=second.id,
                    role="viewer",
                    created_at=T0 + timedelta(days=1),
                ),
                ProjectMember(
                    project_id=project.id, user_id=first.id, role="editor", created_at=T0
                ),
            ]
        )
        await session.commit()

    response = await client.get(members_url(project), headers=make.headers(owner))

    assert listed(response)[1:] == [(first.id, "editor"), (second.id, "viewer")]
    assert [datetime.fromisoformat(m["added_at"]) for m in response.json()[1:]] == [
        T0,
        T0 + timedelta(days=1),
    ]
