"""ETag and If-Match on projects: a change based on a stale read is refused with 412."""

from __future__ import annotations

import asyncio

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.tasks.models import Task
from tests.factories import DomainFactory
from tests.support.api import assert_error
from tests.support.projects import (
    PROJECTS,
    stored_project,
)

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
