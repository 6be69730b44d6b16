"""/api/v1/projects/{id}/members: list, add, change role, remove and leave."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.projects.models import Project, ProjectMember
from taskflow.tasks.models import Task
from taskflow.users.models import User
from tests.factories import DomainFactory

PROJECTS = "/api/v1/projects"
MEMBER_FIELDS = {"user", "role", "added_at"}
ERROR_FIELDS = {"detail", "error", "request_id"}
T0 = datetime(2030, 5, 1, 8, 0, tzinfo=UTC)


# --- helpers -------------------------------------------------------------------------------


def members_url(project: Project, user_id: int | None = None) -> str:
    url = f"{PROJECTS}/{project.id}/members"
    return url if user_id is None else f"{url}/{user_id}"


def assert_error(response: Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_FIELDS
    assert body["error"] == error
    return body


def summary(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "full_name": user.full_name}


def listed(response: Response) -> list[tuple[int, str]]:
    assert response.status_code == 200, response.text
    return [(member["user"]["id"], member["role"]) for member in response.json()]


async def stored_roles(
    sessionmaker: async_sessionmaker[AsyncSession], project: Project
) -> dict[int, str]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(ProjectMember.user_id, ProjectMember.role).where(
                ProjectMember.project_id == project.id
            )
        )
        return dict(rows.all())


async def create_key(client: AsyncClient, headers: dict[str, str], *scopes: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/api-keys", json={"name": "script", "scopes": list(scopes)}, headers=headers
    )
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["key"]}


# --- list ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reader", ["owner", "editor", "viewer", "admin"])
async def test_member_list_has_the_owner_first_then_members_in_order_added(
    client: AsyncClient, make: DomainFactory, reader: str
) -> None:
    owner, editor, viewer, admin = await make(), await make(), await make(), await make.admin()
    project = await make.project(owner, created_at=T0)
    # Added in the order viewer, editor: the list follows it, not the user ids.
    await make.member(project, viewer, "viewer")
    await make.member(project, editor, "editor")
    caller = {"owner": owner, "editor": editor, "viewer": viewer, "admin": admin}[reader]

    response = await client.get(members_url(project), headers=make.headers(caller))

    assert listed(response) == [(owner.id, "owner"), (viewer.id, "viewer"), (editor.id, "editor")]
    assert response.headers["X-Total-Count"] == "3"
    body = response.json()
    assert all(set(member) == MEMBER_FIELDS for member in body)
    assert body[0]["user"] == summary(owner)
    assert body[1]["user"] == summary(viewer)
    assert datetime.fromisoformat(body[0]["added_at"]) == T0
    assert datetime.fromisoformat(body[1]["added_at"]).tzinfo is not None


async def test_member_list_of_a_project_without_members_holds_only_the_owner(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.get(members_url(project), headers=make.headers(owner))

    assert listed(response) == [(owner.id, "owner")]
    assert response.headers["X-Total-Count"] == "1"
    assert "Link" not in response.headers


async def test_member_list_pages_with_total_count_and_link_headers(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    members = [await make(), await make(), await make(), await make()]
    for member in members:
        await make.member(project, member, "viewer")
    everyone = [owner.id, *(member.id for member in members)]
    headers = make.headers(owner)

    first = await client.get(members_url(project), params={"limit": 2}, headers=headers)
    second = await client.get(members_url(project), params={"skip": 2, "limit": 2}, headers=headers)
    last = await client.get(members_url(project), params={"skip": 4, "limit": 2}, headers=headers)

    assert [user_id for user_id, _ in listed(first)] == everyone[:2]
    assert [user_id for user_id, _ in listed(second)] == everyone[2:4]
    assert [user_id for user_id, _ in listed(last)] == everyone[4:]
    for page in (first, second, last):
        assert page.headers["X-Total-Count"] == "5"
    assert 'rel="next"' in first.headers["Link"]
    assert 'rel="prev"' not in first.headers["Link"]
    assert 'rel="next"' in second.headers["Link"]
    assert 'rel="prev"' in second.headers["Link"]
    assert 'rel="next"' not in last.headers["Link"]
    assert 'rel="prev"' in last.headers["Link"]


async def test_member_list_refuses_a_limit_over_100(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.get(
        members_url(project), params={"limit": 101}, headers=make.headers(owner)
    )

    assert response.status_code == 422, response.text
    assert ["query", "limit"] in [item["loc"] for item in response.json()["detail"]]


# --- add -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["editor", "viewer"])
async def test_owner_adds_a_member_who_then_sees_the_project_with_that_role(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    role: str,
) -> None:
    owner, newcomer = await make(), await make()
    project = await make.project(owner)

    response = await client.post(
        members_url(project),
        json={"email": newcomer.email, "role": role},
        headers=make.headers(owner),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == MEMBER_FIELDS
    assert body["user"] == summary(newcomer)
    assert body["role"] == role
    assert datetime.fromisoformat(body["added_at"]).tzinfo is not None
    assert await stored_roles(sessionmaker, project) == {newcomer.id: role}
    seen = await client.get(f"{PROJECTS}/{project.id}", headers=make.headers(newcomer))
    assert seen.status_code == 200, seen.text
    assert seen.json()["my_role"] == role


async def test_add_member_matches_the_email_whatever_its_case(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, newcomer = await make(), await make()
    project = await make.project(owner)

    response = await client.post(
        members_url(project),
        json={"email": newcomer.email.upper(), "role": "viewer"},
        headers=make.headers(owner),
    )

    assert response.status_code == 201, response.text
    assert response.json()["user"]["id"] == newcomer.id
    assert await stored_roles(sessionmaker, project) == {newcomer.id: "viewer"}


async def test_admin_adds_a_member_to_another_users_project(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin, owner, newcomer = await make.admin(), await make(), await make()
    project = await make.project(owner)

    response = await client.post(
        members_url(project),
        json={"email": newcomer.email, "role": "editor"},
        headers=make.headers(admin),
    )

    assert response.status_code == 201, response.text
    assert await stored_roles(sessionmaker, project) == {newcomer.id: "editor"}


async def test_add_member_with_an_unknown_email_answers_422_on_the_email(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.post(
        members_url(project),
        json={"email": "nobody-here@example.com", "role": "viewer"},
        headers=make.headers(owner),
    )

    assert_error(response, 422, "validation_error")
    assert response.json()["detail"] == [
        {"loc": ["body", "email"], "msg": "No active user has this email", "type": "value_error"}
    ]
    assert await stored_roles(sessionmaker, project) == {}


async def test_add_member_with_an_inactive_users_email_answers_422_on_the_email(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, gone = await make(), await make(is_active=False)
    project = await make.project(owner)

    response = await client.post(
        members_url(project),
        json={"email": gone.email, "role": "viewer"},
        headers=make.headers(owner),
    )

    assert_error(response, 422, "validation_error")
    assert response.json()["detail"] == [
        {"loc": ["body", "email"], "msg": "No active user has this email", "type": "value_error"}
    ]
    assert await stored_roles(sessionmaker, project) == {}


async def test_adding_the_owner_answers_409_already_member(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.post(
        members_url(project),
        json={"email": owner.email, "role": "editor"},
        headers=make.headers(owner),
    )

    assert_error(response, 409, "already_member")
    assert await stored_roles(sessionmaker, project) == {}


async def test_the_same_member_added_concurrently_is_added_once_and_then_409(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # On PostgreSQL the adds wait for each other's lock on the project; on SQLite the
    # second INSERT meets the first one's row in the unique index.
    owner, user = await make(), await make()
    project = await make.project(owner)
    body = {"email": user.email, "role": "editor"}

    responses = await asyncio.gather(
        *(
            client.post(members_url(project), json=body, headers=make.headers(owner))
            for _ in range(6)
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * 5, [response.text for response in responses]
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "already_member")
    assert await stored_roles(sessionmaker, project) == {user.id: "editor"}


async def test_adding_an_existing_member_answers_409_and_keeps_its_role(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "viewer")

    response = await client.post(
        members_url(project),
        json={"email": member.email, "role": "editor"},
        headers=make.headers(owner),
    )

    assert_error(response, 409, "already_member")
    assert await stored_roles(sessionmaker, project) == {member.id: "viewer"}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"role": "viewer"}, ["body", "email"]),
        ({"email": "not-an-email", "role": "viewer"}, ["body", "email"]),
        ({"email": "{email}"}, ["body", "role"]),
        ({"email": "{email}", "role": "owner"}, ["body", "role"]),
        ({"email": "{email}", "role": "admin"}, ["body", "role"]),
        ({"email": "{email}", "role": "viewer", "user_id": 1}, ["body", "user_id"]),
    ],
    ids=["no-email", "bad-email", "no-role", "role-owner", "role-admin", "unknown-field"],
)
async def test_add_member_refuses_an_invalid_body_with_422(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
    loc: list[str],
) -> None:
    owner, newcomer = await make(), await make()
    project = await make.project(owner)
    if body.get("email") == "{email}":
        body = {**body, "email": newcomer.email}

    response = await client.post(members_url(project), json=body, headers=make.headers(owner))

    assert_error(response, 422, "validation_error")
    assert loc in [item["loc"] for item in response.json()["detail"]]
    assert await stored_roles(sessionmaker, project) == {}


@pytest.mark.parametrize("role", ["editor", "viewer"])
async def test_member_may_not_add_members(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    role: str,
) -> None:
    owner, member, newcomer = await make(), await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, role)

    response = await client.post(
        members_url(project),
        json={"email": newcomer.email, "role": "viewer"},
        headers=make.headers(member),
    )

    assert_error(response, 403, "forbidden")
    assert await stored_roles(sessionmaker, project) == {member.id: role}


async def test_archived_project_still_takes_new_members(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, newcomer = await make(), await make()
    project = await make.project(owner, is_archived=True)

    response = await client.post(
        members_url(project),
        json={"email": newcomer.email, "role": "viewer"},
        headers=make.headers(owner),
    )

    assert response.status_code == 201, response.text
    assert await stored_roles(sessionmaker, project) == {newcomer.id: "viewer"}


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
    assert response.json()["user"] == summary(member)
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


# --- API key scopes ------------------------------------------------------------------------


async def test_read_scope_key_lists_members_but_may_not_manage_them(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, member, newcomer = await make(), await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "viewer")
    key = await create_key(client, make.headers(owner), "projects:read")

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
    key = await create_key(client, make.headers(owner), "projects:write")

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
    key = await create_key(client, make.headers(member), "projects:read")

    response = await client.delete(members_url(project, member.id), headers=key)

    assert_error(response, 403, "insufficient_scope")
    assert await stored_roles(sessionmaker, project) == {member.id: "viewer"}


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
