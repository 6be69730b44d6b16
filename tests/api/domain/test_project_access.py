"""Who may act on a project: API key scopes, authentication and other users' projects (BOLA)."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.projects.models import Project, ProjectMember
from taskflow.tasks.models import Task
from taskflow.users.models import User
from tests.factories import DomainFactory
from tests.support.api import api_key_headers, assert_error, user_summary
from tests.support.projects import (
    PROJECTS,
    ids,
    stored_project,
)

# --- API key scopes ------------------------------------------------------------------------


async def test_read_scope_key_reads_projects(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)
    key = await api_key_headers(client, make.headers(owner), "projects:read")

    listed = await client.get(PROJECTS, headers=key)
    read = await client.get(f"{PROJECTS}/{project.id}", headers=key)

    assert ids(listed) == [project.id]
    assert read.status_code == 200, read.text
    assert read.json()["my_role"] == "owner"


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
async def test_read_scope_key_may_not_write_projects(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    method: str,
) -> None:
    owner = await make()
    project = await make.project(owner, name="Read only")
    key = await api_key_headers(client, make.headers(owner), "projects:read")
    url = PROJECTS if method == "POST" else f"{PROJECTS}/{project.id}"
    kwargs: dict[str, Any] = {"json": {"name": "Written"}} if method != "DELETE" else {}

    response = await client.request(method, url, headers=key, **kwargs)

    assert_error(response, 403, "insufficient_scope")
    async with sessionmaker() as session:
        names = await session.scalars(select(Project.name))
        assert list(names) == ["Read only"]


async def test_write_scope_key_creates_changes_and_deletes_projects(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    key = await api_key_headers(client, make.headers(owner), "projects:write")

    created = await client.post(PROJECTS, json={"name": "By key"}, headers=key)
    assert created.status_code == 201, created.text
    url = f"{PROJECTS}/{created.json()['id']}"
    changed = await client.patch(url, json={"name": "Changed by key"}, headers=key)
    deleted = await client.delete(url, headers=key)

    assert created.json()["owner"] == user_summary(owner)
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Changed by key"
    assert deleted.status_code == 204, deleted.text
    assert await stored_project(sessionmaker, created.json()["id"]) is None


@pytest.mark.parametrize("path", ["", "/{id}"], ids=["list", "get"])
async def test_key_without_a_projects_scope_may_not_read_projects(
    client: AsyncClient, make: DomainFactory, path: str
) -> None:
    owner = await make()
    project = await make.project(owner)
    key = await api_key_headers(client, make.headers(owner), "tasks:read", "users:read")

    response = await client.get(PROJECTS + path.format(id=project.id), headers=key)

    assert_error(response, 403, "insufficient_scope")


# --- authentication ------------------------------------------------------------------------


ROUTES = [
    ("GET", "", None),
    ("POST", "", {"name": "x"}),
    ("GET", "/{id}", None),
    ("PATCH", "/{id}", {"name": "x"}),
    ("DELETE", "/{id}", None),
    ("GET", "/{id}/members", None),
    ("POST", "/{id}/members", {"email": "a@example.com", "role": "viewer"}),
    ("PATCH", "/{id}/members/{uid}", {"role": "viewer"}),
    ("DELETE", "/{id}/members/{uid}", None),
]


async def _guarded_project(make: DomainFactory) -> tuple[Project, User]:
    owner, member = await make(), await make()
    project = await make.project(owner, name="Guarded")
    await make.member(project, member, "editor")
    return project, member


async def _assert_untouched(sessionmaker: async_sessionmaker[AsyncSession], member: User) -> None:
    async with sessionmaker() as session:
        assert list(await session.scalars(select(Project.name))) == ["Guarded"]
        assert list(await session.scalars(select(ProjectMember.user_id))) == [member.id]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_every_route_answers_401_without_credentials(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    project, member = await _guarded_project(make)
    url = PROJECTS + path.format(id=project.id, uid=member.id)

    response = await client.request(method, url, json=body)

    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    await _assert_untouched(sessionmaker, member)


@pytest.mark.parametrize(
    ("credentials", "error"),
    [
        ({"Authorization": "Bearer not-a-token"}, "invalid_token"),
        ({"X-API-Key": "tfk_" + "x" * 43}, "invalid_api_key"),
    ],
    ids=["bad-bearer", "bad-key"],
)
async def test_every_route_answers_401_to_invalid_credentials(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    credentials: dict[str, str],
    error: str,
) -> None:
    project, member = await _guarded_project(make)

    for method, path, body in ROUTES:
        url = PROJECTS + path.format(id=project.id, uid=member.id)
        response = await client.request(method, url, json=body, headers=credentials)
        assert_error(response, 401, error)
        assert response.headers["WWW-Authenticate"] == "Bearer"

    await _assert_untouched(sessionmaker, member)


# --- BOLA ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"search": "secret"},
        {"search": "confidential"},
        {"include_archived": "true"},
        {"include_archived": "true", "search": "alice"},
        {"my_projects_only": "false", "include_archived": "true", "limit": "100"},
        {"sort": "name", "include_archived": "true"},
    ],
    ids=[
        "plain",
        "search-name",
        "search-description",
        "archived",
        "archived-search",
        "all-filters-off",
        "sorted",
    ],
)
async def test_another_user_never_sees_my_projects_through_list_filters(
    client: AsyncClient, make: DomainFactory, params: dict[str, str]
) -> None:
    alice, bob = await make(), await make()
    await make.project(alice, name="Alice secret plan", description="confidential")
    await make.project(alice, name="Alice archived secret", is_archived=True)
    own = await make.project(bob, name="Bob's own")

    response = await client.get(PROJECTS, params=params, headers=make.headers(bob))

    visible = [] if "search" in params else [own.id]
    assert ids(response) == visible
    assert response.headers["X-Total-Count"] == str(len(visible))


async def test_another_user_cannot_change_or_delete_my_project(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    alice, bob = await make(), await make()
    project = await make.project(alice, name="Alice's")
    task = await make.task(project)
    bob_headers = make.headers(bob)
    url = f"{PROJECTS}/{project.id}"

    read = await client.get(url, headers=bob_headers)
    patched = await client.patch(
        url, json={"name": "Bob's", "is_archived": True}, headers={**bob_headers, "If-Match": "*"}
    )
    deleted = await client.delete(url, headers={**bob_headers, "If-Match": "*"})

    for response in (read, patched, deleted):
        assert_error(response, 404, "not_found")
    stored = await stored_project(sessionmaker, project.id)
    assert stored is not None
    assert (stored.name, stored.is_archived, stored.version) == ("Alice's", False, 1)
    async with sessionmaker() as session:
        assert await session.get(Task, task.id) is not None
