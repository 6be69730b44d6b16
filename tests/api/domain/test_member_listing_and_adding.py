"""Listing a project's members and adding members through /api/v1/projects/{id}/members."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import assert_error, user_summary
from tests.support.members import MEMBER_FIELDS, T0, listed, members_url, stored_roles
from tests.support.projects import PROJECTS

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
    assert body[0]["user"] == user_summary(owner)
    assert body[1]["user"] == user_summary(viewer)
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
    assert body["user"] == user_summary(newcomer)
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
