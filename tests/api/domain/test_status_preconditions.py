"""A status's ETag and If-Match: its version moves on with every change of its row (a place
given by another status's move included), and a stale If-Match changes nothing."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import assert_error, etag_of, if_match, patch_and_delete
from tests.support.statuses import status_named, statuses_url, stored_statuses

Sessions = async_sessionmaker[AsyncSession]


async def _versions(sessionmaker: Sessions, project_id: int) -> dict[str, tuple[int, int]]:
    """name -> (position, version) of the project's statuses, as stored."""
    return {
        s.name: (s.position, s.version) for s in await stored_statuses(sessionmaker, project_id)
    }


async def test_a_new_status_is_version_1_and_each_change_one_more(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)

    created = await client.post(
        statuses_url(project.id), json={"name": "Review", "category": "todo"}, headers=headers
    )
    url = f"{statuses_url(project.id)}/{created.json()['id']}"
    renamed = await client.patch(url, json={"name": "QA"}, headers=headers)
    recoloured = await client.patch(url, json={"color": "#123456"}, headers=headers)

    assert etag_of(created, 201) == '"1"'
    assert (etag_of(renamed, 200), etag_of(recoloured, 200)) == ('"2"', '"3"')
    assert "version" not in created.json() and "version" not in renamed.json()
    assert (await _versions(sessionmaker, project.id))["QA"] == (3, 3)


async def test_a_patch_that_changes_nothing_keeps_the_version(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    doing = await status_named(sessionmaker, project, "In progress")
    url, headers = f"{statuses_url(project.id)}/{doing.id}", make.headers(owner)
    before = await _versions(sessionmaker, project.id)

    same = await client.patch(
        url,
        json={"name": "In progress", "category": "in_progress", "position": 1, "color": None},
        headers=headers,
    )
    empty = await client.patch(url, json={}, headers=if_match(headers, '"1"'))

    assert (etag_of(same, 200), etag_of(empty, 200)) == ('"1"', '"1"')
    assert await _versions(sessionmaker, project.id) == before


async def test_the_list_carries_no_etag(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)

    listed = await client.get(statuses_url(project.id), headers=make.headers(owner))

    assert listed.status_code == 200, listed.text
    assert "ETag" not in listed.headers
    assert all("version" not in status for status in listed.json())


async def test_moving_a_status_gives_the_ones_it_renumbered_a_new_version(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    url, headers = statuses_url(project.id), make.headers(owner)
    review = await client.post(url, json={"name": "Review", "category": "todo"}, headers=headers)
    todo = await status_named(sessionmaker, project, "To do")
    doing = await status_named(sessionmaker, project, "In progress")
    done = await status_named(sessionmaker, project, "Done")

    # Done goes from 2 to 0: To do and In progress move one down, Review (3) stays.
    moved = await client.patch(f"{url}/{done.id}", json={"position": 0}, headers=headers)

    assert etag_of(moved, 200) == '"2"'
    assert await _versions(sessionmaker, project.id) == {
        "Done": (0, 2),
        "To do": (1, 2),
        "In progress": (2, 2),
        "Review": (3, 1),
    }
    # A client holding a renumbered sibling's old ETag is told it changed.
    stale = if_match(headers, '"1"')
    for sibling in (todo, doing):
        refused = await client.patch(f"{url}/{sibling.id}", json={"name": "X"}, headers=stale)
        assert_error(refused, 412, "precondition_failed")
    untouched = await client.patch(
        f"{url}/{review.json()['id']}", json={"color": "#000000"}, headers=stale
    )
    assert etag_of(untouched, 200) == '"2"'


async def test_a_create_or_a_delete_renumbering_others_gives_them_a_new_version(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    url, headers = statuses_url(project.id), make.headers(owner)

    first = await client.post(
        url, json={"name": "Backlog", "category": "todo", "position": 0}, headers=headers
    )
    after_create = await _versions(sessionmaker, project.id)
    todo = await status_named(sessionmaker, project, "To do")
    deleted = await client.delete(f"{url}/{todo.id}", headers=if_match(headers, '"2"'))

    assert etag_of(first, 201) == '"1"'
    assert after_create == {
        "Backlog": (0, 1),
        "To do": (1, 2),
        "In progress": (2, 2),
        "Done": (3, 2),
    }
    assert deleted.status_code == 204, deleted.text
    assert await _versions(sessionmaker, project.id) == {
        "Backlog": (0, 1),
        "In progress": (1, 3),
        "Done": (2, 3),
    }


@pytest.mark.parametrize("tag", ['"1"', 'W/"2"', '"3", "4"'])
async def test_a_stale_if_match_is_412_on_patch_and_delete_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions, tag: str
) -> None:
    owner = await make()
    project = await make.project(owner)
    doing = await status_named(sessionmaker, project, "In progress")
    url, headers = f"{statuses_url(project.id)}/{doing.id}", make.headers(owner)
    changed = await client.patch(url, json={"name": "Doing"}, headers=headers)
    assert etag_of(changed, 200) == '"2"'
    before = await _versions(sessionmaker, project.id)

    refused = await patch_and_delete(
        client, url, if_match(headers, tag), {"name": "Lost", "position": 0}
    )

    for response in refused:
        assert_error(response, 412, "precondition_failed")
    assert await _versions(sessionmaker, project.id) == before


async def test_the_current_etag_or_a_star_lets_the_write_through(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    todo = await status_named(sessionmaker, project, "To do")
    doing = await status_named(sessionmaker, project, "In progress")
    url, headers = statuses_url(project.id), make.headers(owner)

    patched = await client.patch(
        f"{url}/{todo.id}", json={"name": "Open"}, headers=if_match(headers, '"0", "1"')
    )
    starred = await client.patch(
        f"{url}/{todo.id}", json={"color": "#FFFFFF"}, headers=if_match(headers, "*")
    )
    deleted = await client.delete(f"{url}/{doing.id}", headers=if_match(headers, '"1"'))

    assert (etag_of(patched, 200), etag_of(starred, 200)) == ('"2"', '"3"')
    assert deleted.status_code == 204, deleted.text
    assert await _versions(sessionmaker, project.id) == {"Open": (0, 3), "Done": (1, 2)}


async def test_if_match_comes_after_the_rules_of_who_may(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")
    todo = await status_named(sessionmaker, project, "To do")
    url = statuses_url(project.id)

    forbidden = await patch_and_delete(
        client, f"{url}/{todo.id}", if_match(make.headers(viewer), '"9"'), {"name": "X"}
    )
    missing = await patch_and_delete(
        client, f"{url}/987654321", if_match(make.headers(owner), '"9"'), {"name": "X"}
    )

    for response in forbidden:
        assert_error(response, 403, "forbidden")
    for response in missing:
        assert_error(response, 404, "not_found")
