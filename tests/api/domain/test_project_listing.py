"""Listing projects through GET /api/v1/projects: visibility, filters, sorting and pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from httpx import AsyncClient

from taskflow.projects.models import Project
from taskflow.users.models import User
from tests.factories import DomainFactory
from tests.support.api import error_locs
from tests.support.projects import (
    PROJECT_FIELDS,
    PROJECTS,
    T0,
    ids,
)

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
