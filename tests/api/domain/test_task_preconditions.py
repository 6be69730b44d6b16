"""ETag and If-Match on tasks: a change based on a stale read is refused with 412."""

from __future__ import annotations

import asyncio

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import assert_error
from tests.support.tasks import TASKS, stored_task

# --- ETag and If-Match ---------------------------------------------------------------------


async def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner), title="Original")
    headers = make.headers(owner)
    first = await client.patch(
        f"{TASKS}/{task.id}", json={"title": "Second"}, headers={**headers, "If-Match": '"1"'}
    )
    assert first.status_code == 200
    assert first.headers["ETag"] == '"2"'

    stale = await client.patch(
        f"{TASKS}/{task.id}", json={"title": "Lost"}, headers={**headers, "If-Match": '"1"'}
    )

    assert_error(stale, 412, "precondition_failed")
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert (stored.title, stored.version) == ("Second", 2)


async def test_patch_with_the_current_etag_in_a_list_or_star_goes_through(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner), priority=3)
    headers = make.headers(owner)

    listed = await client.patch(
        f"{TASKS}/{task.id}", json={"priority": 1}, headers={**headers, "If-Match": '"7", "1"'}
    )
    star = await client.patch(
        f"{TASKS}/{task.id}", json={"priority": 2}, headers={**headers, "If-Match": "*"}
    )

    assert listed.status_code == 200, listed.text
    assert star.status_code == 200, star.text
    assert star.headers["ETag"] == '"3"'


async def test_a_weak_etag_never_matches_if_match(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner), priority=3)
    headers = {**make.headers(owner), "If-Match": 'W/"1"'}

    patched = await client.patch(f"{TASKS}/{task.id}", json={"priority": 1}, headers=headers)
    deleted = await client.delete(f"{TASKS}/{task.id}", headers=headers)

    assert_error(patched, 412, "precondition_failed")
    assert_error(deleted, 412, "precondition_failed")
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert (stored.priority, stored.version) == (3, 1)


@pytest.mark.parametrize("writer", ["owner", "admin outside the project"])
async def test_writes_without_if_match_go_through(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    writer: str,
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner), title="Old")
    headers = make.headers(owner if writer == "owner" else await make.admin())

    patched = await client.patch(f"{TASKS}/{task.id}", json={"title": "New"}, headers=headers)
    deleted = await client.delete(f"{TASKS}/{task.id}", headers=headers)

    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "New"
    assert patched.headers["ETag"] == '"2"'
    assert deleted.status_code == 204, deleted.text
    assert await stored_task(sessionmaker, task.id) is None


async def test_delete_with_a_stale_if_match_is_412_and_keeps_the_task(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner), title="Old")
    changed = await client.patch(
        f"{TASKS}/{task.id}", json={"title": "New"}, headers=make.headers(owner)
    )
    assert changed.headers["ETag"] == '"2"'

    stale = await client.delete(
        f"{TASKS}/{task.id}", headers={**make.headers(owner), "If-Match": '"1"'}
    )

    assert_error(stale, 412, "precondition_failed")
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert (stored.title, stored.version) == ("New", 2)


async def test_delete_with_the_current_etag_is_204(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner))
    got = await client.get(f"{TASKS}/{task.id}", headers=make.headers(owner))

    response = await client.delete(
        f"{TASKS}/{task.id}", headers={**make.headers(owner), "If-Match": got.headers["ETag"]}
    )

    assert response.status_code == 204, response.text
    assert await stored_task(sessionmaker, task.id) is None


async def test_two_concurrent_patches_with_one_etag_exactly_one_wins(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, editor = await make(), await make()
    project = await make.project(owner)
    await make.member(project, editor, "editor")
    task = await make.task(project, title="Original")
    etag = (await client.get(f"{TASKS}/{task.id}", headers=make.headers(owner))).headers["ETag"]

    responses = await asyncio.gather(
        client.patch(
            f"{TASKS}/{task.id}",
            json={"title": "By owner"},
            headers={**make.headers(owner), "If-Match": etag},
        ),
        client.patch(
            f"{TASKS}/{task.id}",
            json={"title": "By editor"},
            headers={**make.headers(editor), "If-Match": etag},
        ),
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 412], [response.text for response in responses]
    winner = next(response for response in responses if response.status_code == 200)
    loser = next(response for response in responses if response.status_code == 412)
    assert_error(loser, 412, "precondition_failed")
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert stored.title == winner.json()["title"]
    assert stored.version == 2
    assert winner.headers["ETag"] == '"2"'


@pytest.mark.parametrize(
    "caller",
    [
        "from the database",  # the request's transaction begins with the caller's row
        pytest.param("cached", marks=pytest.mark.settings(redis_url="from-fixture")),
    ],
)
async def test_concurrent_changes_without_if_match_each_apply_to_the_latest_version(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    caller: str,
) -> None:
    # Without If-Match a change is not refused because another landed first: it is based
    # again on the task as it then is, in a transaction or statement by statement.
    owner = await make()
    task = await make.task(await make.project(owner), title="Original")
    changes = 6

    responses = await asyncio.gather(
        *(
            client.patch(
                f"{TASKS}/{task.id}", json={"title": f"Change {n}"}, headers=make.headers(owner)
            )
            for n in range(changes)
        )
    )

    assert [r.status_code for r in responses] == [200] * changes, [r.text for r in responses]
    versions = sorted(int(r.headers["ETag"].strip('"')) for r in responses)
    assert versions == list(range(2, changes + 2))
    last = next(r for r in responses if r.headers["ETag"] == f'"{changes + 1}"')
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert (stored.title, stored.version) == (last.json()["title"], changes + 1)
