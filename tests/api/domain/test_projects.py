"""/api/v1/projects: create, read, list, change, archive and delete, with ETags and scopes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from httpx import AsyncClient, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.projects.models import Project, ProjectMember
from taskflow.tasks.models import Task
from taskflow.users.models import User
from tests.factories import DomainFactory

PROJECTS = "/api/v1/projects"
PROJECT_FIELDS = {
    "id",
    "name",
    "description",
    "is_archived",
    "owner",
    "my_role",
    "created_at",
    "updated_at",
}
ERROR_FIELDS = {"detail", "error", "request_id"}
MISSING_ID = 987_654_321
T0 = datetime(2030, 1, 15, 9, 0, tzinfo=UTC)


# --- helpers -------------------------------------------------------------------------------


def assert_error(response: Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_FIELDS
    assert body["error"] == error
    return body


def without_request_id(response: Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    body.pop("request_id")
    return body


def error_locs(response: Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    return [item["loc"] for item in response.json()["detail"]]


def ids(response: Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [project["id"] for project in response.json()]


def summary(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "full_name": user.full_name}


async def create_key(client: AsyncClient, headers: dict[str, str], *scopes: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/api-keys", json={"name": "script", "scopes": list(scopes)}, headers=headers
    )
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["key"]}


async def stored_project(
    sessionmaker: async_sessionmaker[AsyncSession], project_id: int
) -> Project | None:
    async with sessionmaker() as session:
        return await session.get(Project, project_id)


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
    assert body["owner"] == summary(user)
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
    assert body["owner"] == summary(owner)
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
    assert response.json()["owner"] == summary(owner)


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
    assert other.json()["owner"] == summary(owner)
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


# --- list ----------------------------------------------------------------------------------


async def test_list_shows_owned_and_shared_projects_but_not_others(
    client: AsyncClient, make: DomainFactory
) -> None:
    user, other = await make(), await make()
    owned = await make.project(user)
    shared = await make.project(other)
    await make.member(shared, user, "viewer")
    await make.project(other)

    response = await client.get(PROJECTS, headers=make.headers(user))

    assert sorted(ids(response)) == sorted([owned.id, shared.id])
    assert response.headers["X-Total-Count"] == "2"
    roles = {project["id"]: project["my_role"] for project in response.json()}
    assert roles == {owned.id: "owner", shared.id: "viewer"}
    assert all(set(project) == PROJECT_FIELDS for project in response.json())


async def test_list_is_empty_for_a_user_without_projects(
    client: AsyncClient, make: DomainFactory
) -> None:
    user, other = await make(), await make()
    await make.project(other)

    response = await client.get(PROJECTS, headers=make.headers(user))

    assert ids(response) == []
    assert response.headers["X-Total-Count"] == "0"
    assert "Link" not in response.headers


async def test_admin_lists_every_project(client: AsyncClient, make: DomainFactory) -> None:
    admin, first, second = await make.admin(), await make(), await make()
    theirs = [await make.project(first), await make.project(second)]
    own = await make.project(admin)

    response = await client.get(PROJECTS, headers=make.headers(admin))

    assert sorted(ids(response)) == sorted([*(p.id for p in theirs), own.id])
    assert response.headers["X-Total-Count"] == "3"
    roles = {project["id"]: project["my_role"] for project in response.json()}
    assert roles == {theirs[0].id: "admin", theirs[1].id: "admin", own.id: "owner"}


async def test_my_projects_only_keeps_the_projects_the_caller_owns(
    client: AsyncClient, make: DomainFactory
) -> None:
    user, other = await make(), await make()
    owned = await make.project(user)
    shared = await make.project(other)
    await make.member(shared, user, "editor")

    response = await client.get(
        PROJECTS, params={"my_projects_only": "true"}, headers=make.headers(user)
    )

    assert ids(response) == [owned.id]
    assert response.headers["X-Total-Count"] == "1"


async def test_my_projects_only_for_admin_leaves_out_other_owners(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, other = await make.admin(), await make()
    own = await make.project(admin)
    await make.project(other)

    response = await client.get(
        PROJECTS, params={"my_projects_only": "true"}, headers=make.headers(admin)
    )

    assert ids(response) == [own.id]


async def test_archived_projects_are_listed_only_with_include_archived(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    active = await make.project(user)
    archived = await make.project(user, is_archived=True)
    headers = make.headers(user)

    default = await client.get(PROJECTS, headers=headers)
    included = await client.get(PROJECTS, params={"include_archived": "true"}, headers=headers)

    assert ids(default) == [active.id]
    assert default.headers["X-Total-Count"] == "1"
    assert sorted(ids(included)) == sorted([active.id, archived.id])
    assert included.headers["X-Total-Count"] == "2"


async def test_search_matches_name_and_description_case_insensitively(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    by_name = await make.project(user, name="Kitchen REMODEL", description="walls")
    by_description = await make.project(user, name="House", description="The remodel budget")
    await make.project(user, name="Garden", description="flowers")

    response = await client.get(PROJECTS, params={"search": "reMoDeL"}, headers=make.headers(user))

    assert sorted(ids(response)) == sorted([by_name.id, by_description.id])
    assert response.headers["X-Total-Count"] == "2"


@pytest.mark.parametrize(
    ("term", "expected"),
    [("100%", "percent"), ("a_b", "underscore")],
    ids=["percent", "underscore"],
)
async def test_search_matches_percent_and_underscore_literally(
    client: AsyncClient, make: DomainFactory, term: str, expected: str
) -> None:
    user = await make()
    projects = {
        "percent": await make.project(user, name="Done 100% of it", description=None),
        "underscore": await make.project(user, name="file a_b.txt", description=None),
        # Would match if % or _ were wildcards.
        "decoy": await make.project(user, name="Done 1000 of it axb", description="aXb 100x"),
    }

    response = await client.get(PROJECTS, params={"search": term}, headers=make.headers(user))

    assert ids(response) == [projects[expected].id]


async def test_search_is_case_insensitive_beyond_ascii(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    by_name = await make.project(user, name="ÜBERSICHT Straße", description=None)
    by_description = await make.project(user, name="Plan", description="Élan ÇA VA")
    await make.project(user, name="Other", description="nothing")
    headers = make.headers(user)

    umlaut = await client.get(PROJECTS, params={"search": "übersicht"}, headers=headers)
    accent = await client.get(PROJECTS, params={"search": "élan ça"}, headers=headers)

    assert ids(umlaut) == [by_name.id]
    assert ids(accent) == [by_description.id]


@pytest.mark.parametrize("term", ["a/b", "a\\b"], ids=["slash", "backslash"])
async def test_search_matches_escape_characters_literally(
    client: AsyncClient, make: DomainFactory, term: str
) -> None:
    user = await make()
    target = await make.project(user, name=f"path {term} here", description=None)
    await make.project(user, name="path ab here", description=None)
    await make.project(user, name="path a_b here", description=None)

    response = await client.get(PROJECTS, params={"search": term}, headers=make.headers(user))

    assert ids(response) == [target.id]


async def test_search_combines_with_my_projects_only_and_include_archived(
    client: AsyncClient, make: DomainFactory
) -> None:
    user, other = await make(), await make()
    target = await make.project(user, name="Alpha archived", is_archived=True)
    await make.project(user, name="Beta", is_archived=True)
    shared = await make.project(other, name="Alpha shared")
    await make.member(shared, user, "viewer")

    response = await client.get(
        PROJECTS,
        params={"search": "alpha", "my_projects_only": "true", "include_archived": "true"},
        headers=make.headers(user),
    )

    assert ids(response) == [target.id]


async def _projects_with_known_times(make: DomainFactory, owner: User) -> dict[str, Project]:
    """Three projects whose name, created_at and updated_at orders all differ."""
    return {
        "b": await make.project(
            owner, name="bravo", created_at=T0, updated_at=T0 + timedelta(days=3)
        ),
        "c": await make.project(
            owner,
            name="charlie",
            created_at=T0 + timedelta(days=1),
            updated_at=T0 + timedelta(days=1),
        ),
        "a": await make.project(
            owner,
            name="alpha",
            created_at=T0 + timedelta(days=2),
            updated_at=T0 + timedelta(days=2),
        ),
    }


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("created_at", "bca"),
        ("-created_at", "acb"),
        ("updated_at", "cab"),
        ("-updated_at", "bac"),
    ],
)
async def test_list_sorts_by_time(
    client: AsyncClient, make: DomainFactory, sort: str, order: str
) -> None:
    user = await make()
    projects = await _projects_with_known_times(make, user)

    response = await client.get(PROJECTS, params={"sort": sort}, headers=make.headers(user))

    assert ids(response) == [projects[key].id for key in order]


@pytest.mark.parametrize(("sort", "order"), [("name", "abc"), ("-name", "cba")])
async def test_list_sorts_by_name(
    client: AsyncClient, make: DomainFactory, sort: str, order: str
) -> None:
    user = await make()
    projects = await _projects_with_known_times(make, user)

    response = await client.get(PROJECTS, params={"sort": sort}, headers=make.headers(user))

    assert ids(response) == [projects[key].id for key in order]


async def test_list_defaults_to_newest_first(client: AsyncClient, make: DomainFactory) -> None:
    user = await make()
    projects = await _projects_with_known_times(make, user)

    response = await client.get(PROJECTS, headers=make.headers(user))

    assert ids(response) == [projects[key].id for key in "acb"]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("sort", "owner"),
        ("sort", "--name"),
        ("sort", "password_hash"),
        ("limit", "0"),
        ("limit", "101"),
        ("skip", "-1"),
        ("my_projects_only", "maybe"),
    ],
)
async def test_list_refuses_invalid_parameters_with_422(
    client: AsyncClient, make: DomainFactory, param: str, value: str
) -> None:
    user = await make()

    response = await client.get(PROJECTS, params={param: value}, headers=make.headers(user))

    assert ["query", param] in error_locs(response)


async def test_list_pages_with_total_count_and_link_headers(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    projects = [
        await make.project(user, name=f"p{i}", created_at=T0 + timedelta(minutes=i))
        for i in range(5)
    ]
    newest_first = [project.id for project in reversed(projects)]
    headers = make.headers(user)

    first = await client.get(PROJECTS, params={"limit": 2}, headers=headers)
    middle = await client.get(PROJECTS, params={"skip": 2, "limit": 2}, headers=headers)
    last = await client.get(PROJECTS, params={"skip": 4, "limit": 2}, headers=headers)

    assert ids(first) == newest_first[:2]
    assert ids(middle) == newest_first[2:4]
    assert ids(last) == newest_first[4:]
    for page in (first, middle, last):
        assert page.headers["X-Total-Count"] == "5"
    assert 'rel="next"' in first.headers["Link"]
    assert "skip=2" in first.headers["Link"]
    assert 'rel="prev"' not in first.headers["Link"]
    assert 'rel="next"' in middle.headers["Link"]
    assert "skip=4" in middle.headers["Link"]
    assert 'rel="prev"' in middle.headers["Link"]
    assert "skip=0" in middle.headers["Link"]
    assert 'rel="next"' not in last.headers["Link"]
    assert 'rel="prev"' in last.headers["Link"]


async def test_list_link_keeps_the_filters(client: AsyncClient, make: DomainFactory) -> None:
    user = await make()
    for i in range(3):
        await make.project(user, name=f"match {i}")

    response = await client.get(
        PROJECTS, params={"search": "match", "limit": 1}, headers=make.headers(user)
    )

    assert response.headers["X-Total-Count"] == "3"
    assert "search=match" in response.headers["Link"]


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
    assert renamed.json()["owner"] == summary(owner)
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


# --- ETag and If-Match ---------------------------------------------------------------------


async def test_etag_follows_the_version_through_writes(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    url = f"{PROJECTS}/{project.id}"

    first = await client.patch(url, json={"name": "one"}, headers=headers)
    second = await client.patch(url, json={"name": "two"}, headers=headers)
    read = await client.get(url, headers=headers)

    assert first.headers["ETag"] == '"2"'
    assert second.headers["ETag"] == '"3"'
    assert read.headers["ETag"] == '"3"'


async def test_patch_with_the_current_etag_succeeds(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    url = f"{PROJECTS}/{project.id}"
    etag = (await client.get(url, headers=headers)).headers["ETag"]

    response = await client.patch(
        url, json={"name": "Matched"}, headers={**headers, "If-Match": etag}
    )

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Matched"
    assert response.headers["ETag"] != etag


@pytest.mark.parametrize("if_match", ["*", '"9", "1"'], ids=["star", "list-with-current"])
async def test_patch_with_star_or_a_list_holding_the_current_etag_succeeds(
    client: AsyncClient, make: DomainFactory, if_match: str
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.patch(
        f"{PROJECTS}/{project.id}",
        json={"name": "Matched"},
        headers={**make.headers(owner), "If-Match": if_match},
    )

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Matched"


@pytest.mark.parametrize("if_match", ['"0"', '"2"', 'W/"1"', "1", "garbage"])
async def test_patch_with_a_stale_or_weak_etag_answers_412_and_changes_nothing(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    if_match: str,
) -> None:
    owner = await make()
    project = await make.project(owner, name="Untouched")

    response = await client.patch(
        f"{PROJECTS}/{project.id}",
        json={"name": "Changed"},
        headers={**make.headers(owner), "If-Match": if_match},
    )

    assert_error(response, 412, "precondition_failed")
    stored = await stored_project(sessionmaker, project.id)
    assert stored is not None
    assert (stored.name, stored.version) == ("Untouched", 1)


async def test_patch_with_an_etag_read_before_another_write_answers_412(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    url = f"{PROJECTS}/{project.id}"
    etag = (await client.get(url, headers=headers)).headers["ETag"]
    await client.patch(url, json={"name": "First writer"}, headers=headers)

    response = await client.patch(
        url, json={"name": "Late writer"}, headers={**headers, "If-Match": etag}
    )

    assert_error(response, 412, "precondition_failed")
    stored = await stored_project(sessionmaker, project.id)
    assert stored is not None
    assert stored.name == "First writer"


@pytest.mark.parametrize("if_match", ['"2"', 'W/"1"'], ids=["stale", "weak"])
async def test_delete_with_a_stale_or_weak_etag_answers_412_and_keeps_the_project(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    if_match: str,
) -> None:
    owner = await make()
    project = await make.project(owner)
    task = await make.task(project)

    response = await client.delete(
        f"{PROJECTS}/{project.id}", headers={**make.headers(owner), "If-Match": if_match}
    )

    assert_error(response, 412, "precondition_failed")
    assert await stored_project(sessionmaker, project.id) is not None
    async with sessionmaker() as session:
        assert await session.get(Task, task.id) is not None


@pytest.mark.parametrize("if_match", ['"1"', "*"], ids=["current", "star"])
async def test_delete_with_a_matching_etag_succeeds(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    if_match: str,
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.delete(
        f"{PROJECTS}/{project.id}", headers={**make.headers(owner), "If-Match": if_match}
    )

    assert response.status_code == 204, response.text
    assert await stored_project(sessionmaker, project.id) is None


async def test_two_concurrent_patches_with_the_same_etag_let_exactly_one_win(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = {**make.headers(owner), "If-Match": '"1"'}
    url = f"{PROJECTS}/{project.id}"

    responses = await asyncio.gather(
        client.patch(url, json={"name": "Left"}, headers=headers),
        client.patch(url, json={"name": "Right"}, headers=headers),
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 412], [response.text for response in responses]
    [winner] = [response for response in responses if response.status_code == 200]
    [loser] = [response for response in responses if response.status_code == 412]
    assert_error(loser, 412, "precondition_failed")
    stored = await stored_project(sessionmaker, project.id)
    assert stored is not None
    assert stored.name == winner.json()["name"]
    assert stored.version == 2


async def test_concurrent_patches_without_if_match_all_land_one_after_another(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # PostgreSQL: each waits for the project's row lock; SQLite: for the database's.
    owner = await make()
    project = await make.project(owner)
    url = f"{PROJECTS}/{project.id}"
    changes = 6

    responses = await asyncio.gather(
        *(
            client.patch(url, json={"name": f"Name {n}"}, headers=make.headers(owner))
            for n in range(changes)
        )
    )

    assert [r.status_code for r in responses] == [200] * changes, [r.text for r in responses]
    versions = sorted(int(r.headers["ETag"].strip('"')) for r in responses)
    assert versions == list(range(2, changes + 2))
    last = next(r for r in responses if r.headers["ETag"] == f'"{changes + 1}"')
    stored = await stored_project(sessionmaker, project.id)
    assert stored is not None
    assert (stored.name, stored.version) == (last.json()["name"], changes + 1)


# --- API key scopes ------------------------------------------------------------------------


async def test_read_scope_key_reads_projects(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)
    key = await create_key(client, make.headers(owner), "projects:read")

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
    key = await create_key(client, make.headers(owner), "projects:read")
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
    key = await create_key(client, make.headers(owner), "projects:write")

    created = await client.post(PROJECTS, json={"name": "By key"}, headers=key)
    assert created.status_code == 201, created.text
    url = f"{PROJECTS}/{created.json()['id']}"
    changed = await client.patch(url, json={"name": "Changed by key"}, headers=key)
    deleted = await client.delete(url, headers=key)

    assert created.json()["owner"] == summary(owner)
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
    key = await create_key(client, make.headers(owner), "tasks:read", "users:read")

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
