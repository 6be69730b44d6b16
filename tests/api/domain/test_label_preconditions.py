"""A label's ETag and If-Match: its version moves on with every change, and a stale If-Match
changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.labels.models import Label
from tests.factories import DomainFactory
from tests.support.api import assert_error, etag_of, if_match, patch_and_delete
from tests.support.labels import labels_url, new_label

Sessions = async_sessionmaker[AsyncSession]


async def _owners_label(
    client: AsyncClient, make: DomainFactory
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A project's label "bug" (#FF0000) made by its owner: its URL, the owner's headers, and
    the label as created."""
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    label = await new_label(client, headers, project, "bug", "#FF0000")
    return labels_url(project, label["id"]), headers, label


async def _stored(sessionmaker: Sessions, label_id: int) -> tuple[str, str, int] | None:
    """(name, color, version) of the label as stored; None once it is gone."""
    query = select(Label.name, Label.color, Label.version).where(Label.id == label_id)
    async with sessionmaker() as session:
        row = (await session.execute(query)).first()
    return None if row is None else (row.name, row.color, row.version)


async def test_a_new_label_is_version_1_and_each_change_one_more(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)

    created = await client.post(
        labels_url(project), json={"name": "bug", "color": "#FF0000"}, headers=headers
    )
    url = labels_url(project, created.json()["id"])
    read = await client.get(url, headers=headers)
    renamed = await client.patch(url, json={"name": "Bug"}, headers=headers)
    recoloured = await client.patch(url, json={"color": "#00FF00"}, headers=headers)
    read_again = await client.get(url, headers=headers)

    assert (etag_of(created, 201), etag_of(read, 200)) == ('"1"', '"1"')
    assert (etag_of(renamed, 200), etag_of(recoloured, 200)) == ('"2"', '"3"')
    assert etag_of(read_again, 200) == '"3"'
    assert "version" not in created.json() and "version" not in recoloured.json()
    assert await _stored(sessionmaker, created.json()["id"]) == ("Bug", "#00FF00", 3)


async def test_a_patch_that_changes_nothing_keeps_the_version(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    url, headers, label = await _owners_label(client, make)

    same = await client.patch(url, json={"name": "bug", "color": "#FF0000"}, headers=headers)
    empty = await client.patch(url, json={}, headers=if_match(headers, '"1"'))

    assert (etag_of(same, 200), etag_of(empty, 200)) == ('"1"', '"1"')
    assert await _stored(sessionmaker, label["id"]) == ("bug", "#FF0000", 1)


async def test_the_list_carries_no_etag(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)
    await new_label(client, make.headers(owner), project, "bug")

    listed = await client.get(labels_url(project), headers=make.headers(owner))

    assert listed.status_code == 200, listed.text
    assert "ETag" not in listed.headers
    assert all("version" not in label for label in listed.json())


@pytest.mark.parametrize("tag", ['"1"', 'W/"2"', '"3", "4"'])
async def test_a_stale_if_match_is_412_on_patch_and_delete_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions, tag: str
) -> None:
    url, headers, label = await _owners_label(client, make)
    changed = await client.patch(url, json={"name": "defect"}, headers=headers)
    assert etag_of(changed, 200) == '"2"'

    refused = await patch_and_delete(
        client, url, if_match(headers, tag), {"name": "lost", "color": "#000000"}
    )

    for response in refused:
        assert_error(response, 412, "precondition_failed")
    assert await _stored(sessionmaker, label["id"]) == ("defect", "#FF0000", 2)
    read = await client.get(url, headers=headers)
    assert (read.json()["name"], etag_of(read, 200)) == ("defect", '"2"')


async def test_the_current_etag_or_a_star_lets_the_write_through(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    url, headers, label = await _owners_label(client, make)
    other_url, other_headers, other = await _owners_label(client, make)

    patched = await client.patch(url, json={"name": "Bug"}, headers=if_match(headers, '"0", "1"'))
    starred = await client.patch(url, json={"color": "#FFFFFF"}, headers=if_match(headers, "*"))
    deleted = await client.delete(url, headers=if_match(headers, '"3"'))
    deleted_star = await client.delete(other_url, headers=if_match(other_headers, "*"))

    assert (etag_of(patched, 200), etag_of(starred, 200)) == ('"2"', '"3"')
    assert (deleted.status_code, deleted_star.status_code) == (204, 204), deleted.text
    assert await _stored(sessionmaker, label["id"]) is None
    assert await _stored(sessionmaker, other["id"]) is None


async def test_if_match_comes_after_the_rules_of_who_may(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")
    label = await new_label(client, make.headers(owner), project, "bug")

    forbidden = await patch_and_delete(
        client,
        labels_url(project, label["id"]),
        if_match(make.headers(viewer), '"9"'),
        {"name": "x"},
    )
    missing = await patch_and_delete(
        client, labels_url(project, 987_654_321), if_match(make.headers(owner), '"9"'), {}
    )

    for response in forbidden:
        assert_error(response, 403, "forbidden")
    for response in missing:
        assert_error(response, 404, "not_found")
    assert await _stored(sessionmaker, label["id"]) == ("bug", "#112233", 1)
