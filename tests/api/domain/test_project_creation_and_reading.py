"""Creating a project and reading it, and the 404 of a project one cannot see."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.projects.models import Project, ProjectMember
from tests.factories import DomainFactory
from tests.support.api import assert_error, error_locs, user_summary
from tests.support.projects import (
    MISSING_ID,
    PROJECT_FIELDS,
    PROJECTS,
    stored_project,
    without_request_id,
)

# --- create --------------------------------------------------------------------------------


async def test_create_project_returns_201_with_the_caller_as_owner(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await make()

    response = await client.post(
        PROJECTS,
        json={"name": "  Launch plan  ", "description": "Everything for the launch"},
        headers=make.headers(user),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == PROJECT_FIELDS
    assert body["name"] == "Launch plan"
    assert body["description"] == "Everything for the launch"
    assert body["is_archived"] is False
    assert body["owner"] == user_summary(user)
    assert body["my_role"] == "owner"
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert datetime.fromisoformat(body["updated_at"]).tzinfo is not None
    assert response.headers["ETag"] == '"1"'
    stored = await stored_project(sessionmaker, body["id"])
    assert stored is not None
    assert stored.owner_id == user.id
    assert stored.name == "Launch plan"


async def test_create_project_without_description_stores_null(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()

    response = await client.post(PROJECTS, json={"name": "Bare"}, headers=make.headers(user))

    assert response.status_code == 201, response.text
    assert response.json()["description"] is None


async def test_create_project_accepts_the_longest_name_and_description(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()

    response = await client.post(
        PROJECTS, json={"name": "n" * 200, "description": "d" * 5000}, headers=make.headers(user)
    )

    assert response.status_code == 201, response.text
    assert response.json()["name"] == "n" * 200
    assert len(response.json()["description"]) == 5000


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": ""}, ["body", "name"]),
        ({"name": "   "}, ["body", "name"]),
        ({"name": "n" * 201}, ["body", "name"]),
        ({"name": None}, ["body", "name"]),
        ({}, ["body", "name"]),
        ({"name": "ok", "description": "d" * 5001}, ["body", "description"]),
        ({"name": "ok", "owner_id": 1}, ["body", "owner_id"]),
        ({"name": "ok", "is_archived": True}, ["body", "is_archived"]),
    ],
    ids=[
        "empty-name",
        "blank-name",
        "long-name",
        "null-name",
        "missing-name",
        "long-description",
        "unknown-owner_id",
        "is_archived-not-a-create-field",
    ],
)
async def test_create_project_refuses_an_invalid_body_with_422(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
    loc: list[str],
) -> None:
    user = await make()

    response = await client.post(PROJECTS, json=body, headers=make.headers(user))

    assert loc in error_locs(response)
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Project)) == 0


# --- read ----------------------------------------------------------------------------------


async def test_get_project_returns_its_body_and_strong_etag(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner, name="Garden", description="Plant things")

    response = await client.get(f"{PROJECTS}/{project.id}", headers=make.headers(owner))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == PROJECT_FIELDS
    assert body["id"] == project.id
    assert body["name"] == "Garden"
    assert body["description"] == "Plant things"
    assert body["owner"] == user_summary(owner)
    assert body["my_role"] == "owner"
    assert response.headers["ETag"] == '"1"'


@pytest.mark.parametrize("role", ["editor", "viewer"])
async def test_member_reads_project_with_its_role(
    client: AsyncClient, make: DomainFactory, role: str
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, role)

    response = await client.get(f"{PROJECTS}/{project.id}", headers=make.headers(member))

    assert response.status_code == 200, response.text
    assert response.json()["my_role"] == role
    assert response.json()["owner"] == user_summary(owner)


async def test_admin_reads_any_project_as_admin_and_its_own_as_owner(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, owner = await make.admin(), await make()
    theirs = await make.project(owner)
    own = await make.project(admin)

    other = await client.get(f"{PROJECTS}/{theirs.id}", headers=make.headers(admin))
    mine = await client.get(f"{PROJECTS}/{own.id}", headers=make.headers(admin))

    assert other.status_code == 200, other.text
    assert other.json()["my_role"] == "admin"
    assert other.json()["owner"] == user_summary(owner)
    assert mine.json()["my_role"] == "owner"


# --- 404 parity: an invisible project looks exactly like a missing one -----------------------


def _project_routes(project_id: int, member_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    base = f"{PROJECTS}/{project_id}"
    return [
        ("GET", base, {}),
        ("PATCH", base, {"json": {"name": "hijacked"}}),
        ("DELETE", base, {}),
        ("GET", f"{base}/members", {}),
        ("POST", f"{base}/members", {"json": {"email": "x@example.com", "role": "editor"}}),
        ("PATCH", f"{base}/members/{member_id}", {"json": {"role": "viewer"}}),
        ("DELETE", f"{base}/members/{member_id}", {}),
    ]


ROUTE_NAMES = [
    "get-project",
    "patch-project",
    "delete-project",
    "list-members",
    "add-member",
    "change-member",
    "remove-member",
]


@pytest.mark.parametrize("route", range(len(ROUTE_NAMES)), ids=ROUTE_NAMES)
async def test_invisible_project_answers_404_like_a_missing_one(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    route: int,
) -> None:
    owner, member, stranger = await make(), await make(), await make()
    project = await make.project(owner, name="Secret")
    await make.member(project, member, "editor")
    headers = make.headers(stranger)

    method, url, kwargs = _project_routes(project.id, member.id)[route]
    hidden = await client.request(method, url, headers=headers, **kwargs)
    method, url, kwargs = _project_routes(MISSING_ID, member.id)[route]
    missing = await client.request(method, url, headers=headers, **kwargs)

    assert_error(hidden, 404, "not_found")
    assert without_request_id(hidden) == without_request_id(missing)
    async with sessionmaker() as session:
        stored = await session.get(Project, project.id)
        assert stored is not None
        assert stored.name == "Secret"
        assert stored.version == 1
        members = await session.scalars(
            select(ProjectMember.user_id).where(ProjectMember.project_id == project.id)
        )
        assert list(members) == [member.id]
