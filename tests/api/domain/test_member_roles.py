"""Changing a member's role, and the API key scopes member routes need."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import api_key_headers, assert_error, user_summary
from tests.support.members import listed, members_url, stored_roles
from tests.support.projects import PROJECTS

# --- change role ---------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "after"), [("editor", "viewer"), ("viewer", "editor")])
async def test_owner_changes_a_members_role(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    before: str,
    after: str,
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, before)

    response = await client.patch(
        members_url(project, member.id), json={"role": after}, headers=make.headers(owner)
    )

    assert response.status_code == 200, response.text
    assert response.json()["user"] == user_summary(member)
    assert response.json()["role"] == after
    assert await stored_roles(sessionmaker, project) == {member.id: after}
    seen = await client.get(f"{PROJECTS}/{project.id}", headers=make.headers(member))
    assert seen.json()["my_role"] == after


async def test_admin_changes_a_members_role_in_another_users_project(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin, owner, member = await make.admin(), await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "viewer")

    response = await client.patch(
        members_url(project, member.id), json={"role": "editor"}, headers=make.headers(admin)
    )

    assert response.status_code == 200, response.text
    assert await stored_roles(sessionmaker, project) == {member.id: "editor"}


async def test_demoted_editor_can_no_longer_create_tasks(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "editor")

    demoted = await client.patch(
        members_url(project, member.id), json={"role": "viewer"}, headers=make.headers(owner)
    )
    attempt = await client.post(
        "/api/v1/tasks",
        json={"title": "Not allowed", "project_id": project.id},
        headers=make.headers(member),
    )

    assert demoted.status_code == 200, demoted.text
    assert_error(attempt, 403, "forbidden")


@pytest.mark.parametrize("target", ["stranger", "owner", "missing"])
async def test_changing_the_role_of_a_non_member_answers_404(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    target: str,
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)
    user_id = {"stranger": stranger.id, "owner": owner.id, "missing": 987_654_321}[target]

    response = await client.patch(
        members_url(project, user_id), json={"role": "editor"}, headers=make.headers(owner)
    )

    assert_error(response, 404, "not_found")
    assert await stored_roles(sessionmaker, project) == {}


@pytest.mark.parametrize(
    "body",
    [{"role": "owner"}, {"role": None}, {}, {"role": "viewer", "email": "x@example.com"}],
    ids=["owner", "null", "missing", "unknown-field"],
)
async def test_change_role_refuses_an_invalid_body_with_422(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "editor")

    response = await client.patch(
        members_url(project, member.id), json=body, headers=make.headers(owner)
    )

    assert_error(response, 422, "validation_error")
    assert await stored_roles(sessionmaker, project) == {member.id: "editor"}


@pytest.mark.parametrize("role", ["editor", "viewer"])
async def test_member_may_not_change_roles_not_even_its_own(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    role: str,
) -> None:
    owner, member, other = await make(), await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, role)
    await make.member(project, other, "viewer")
    headers = make.headers(member)

    on_other = await client.patch(
        members_url(project, other.id), json={"role": "editor"}, headers=headers
    )
    on_self = await client.patch(
        members_url(project, member.id), json={"role": "editor"}, headers=headers
    )

    assert_error(on_other, 403, "forbidden")
    assert_error(on_self, 403, "forbidden")
    assert await stored_roles(sessionmaker, project) == {member.id: role, other.id: "viewer"}


# --- API key scopes ------------------------------------------------------------------------


async def test_read_scope_key_lists_members_but_may_not_manage_them(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, member, newcomer = await make(), await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "viewer")
    key = await api_key_headers(client, make.headers(owner), "projects:read")

    listing = await client.get(members_url(project), headers=key)
    added = await client.post(
        members_url(project), json={"email": newcomer.email, "role": "viewer"}, headers=key
    )
    changed = await client.patch(
        members_url(project, member.id), json={"role": "editor"}, headers=key
    )
    removed = await client.delete(members_url(project, member.id), headers=key)

    assert listed(listing) == [(owner.id, "owner"), (member.id, "viewer")]
    for response in (added, changed, removed):
        assert_error(response, 403, "insufficient_scope")
    assert await stored_roles(sessionmaker, project) == {member.id: "viewer"}


async def test_write_scope_key_manages_members(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, newcomer = await make(), await make()
    project = await make.project(owner)
    key = await api_key_headers(client, make.headers(owner), "projects:write")

    added = await client.post(
        members_url(project), json={"email": newcomer.email, "role": "viewer"}, headers=key
    )
    changed = await client.patch(
        members_url(project, newcomer.id), json={"role": "editor"}, headers=key
    )
    assert await stored_roles(sessionmaker, project) == {newcomer.id: "editor"}
    removed = await client.delete(members_url(project, newcomer.id), headers=key)

    assert added.status_code == 201, added.text
    assert changed.status_code == 200, changed.text
    assert removed.status_code == 204, removed.text
    assert await stored_roles(sessionmaker, project) == {}


async def test_read_scope_key_may_not_leave_a_project(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "viewer")
    key = await api_key_headers(client, make.headers(member), "projects:read")

    response = await client.delete(members_url(project, member.id), headers=key)

    assert_error(response, 403, "insufficient_scope")
    assert await stored_roles(sessionmaker, project) == {member.id: "viewer"}
