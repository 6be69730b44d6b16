"""Statuses and the board: API key scopes, missing statuses, refused bodies, and the order
of refusals when a task names a status."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import assert_error, error_locs
from tests.support.statuses import board_url, status_named, statuses_url, stored_statuses
from tests.support.tasks import TASKS

Sessions = async_sessionmaker[AsyncSession]


async def _key(client: AsyncClient, headers: dict[str, str], *scopes: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/api-keys", json={"name": "key", "scopes": list(scopes)}, headers=headers
    )
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["key"]}


async def test_statuses_need_project_scopes_and_the_board_tasks_read(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    todo = await status_named(sessionmaker, project, "To do")
    tasks_only = await _key(client, make.headers(owner), "tasks:read", "tasks:write")
    reader = await _key(client, make.headers(owner), "projects:read")
    url = statuses_url(project.id)

    refused = [
        await client.get(url, headers=tasks_only),
        await client.post(url, json={"name": "X", "category": "todo"}, headers=reader),
        await client.patch(f"{url}/{todo.id}", json={"name": "Y"}, headers=reader),
        await client.delete(f"{url}/{todo.id}", headers=reader),
        await client.get(board_url(project.id), headers=reader),
    ]

    for response in refused:
        assert_error(response, 403, "insufficient_scope")
    assert (await client.get(url, headers=reader)).status_code == 200
    assert (await client.get(board_url(project.id), headers=tasks_only)).status_code == 200


async def test_a_missing_status_is_404(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)
    url, headers = f"{statuses_url(project.id)}/987654321", make.headers(owner)

    assert_error(await client.patch(url, json={"name": "Y"}, headers=headers), 404, "not_found")
    assert_error(await client.delete(url, headers=headers), 404, "not_found")
    missing = await client.get(statuses_url(987_654_321), headers=headers)
    assert_error(missing, 404, "not_found")


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": None}, ["body", "name"]),
        ({"name": ""}, ["body", "name"]),
        ({"category": None}, ["body", "category"]),
        ({"position": 51}, ["body", "position"]),
        ({"position": "1"}, ["body", "position"]),
        ({"color": "#12345"}, ["body", "color"]),
        ({"project_id": 2}, ["body", "project_id"]),
    ],
)
async def test_patch_refuses_an_invalid_body_with_422(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: Sessions,
    body: dict[str, Any],
    loc: list[Any],
) -> None:
    owner = await make()
    project = await make.project(owner)
    todo = await status_named(sessionmaker, project, "To do")
    response = await client.patch(
        f"{statuses_url(project.id)}/{todo.id}", json=body, headers=make.headers(owner)
    )
    assert loc in error_locs(response)


async def test_color_can_be_cleared_and_renaming_to_its_own_name_in_other_case_is_fine(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    todo = await status_named(sessionmaker, project, "To do")
    url, headers = f"{statuses_url(project.id)}/{todo.id}", make.headers(owner)

    colored = await client.patch(url, json={"color": "#FFFFFF"}, headers=headers)
    cleared = await client.patch(url, json={"color": None, "name": "TO DO"}, headers=headers)

    assert colored.json()["color"] == "#FFFFFF"
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["color"], cleared.json()["name"]) == (None, "TO DO")


async def test_a_viewer_naming_a_foreign_status_is_403_not_422(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")
    foreign = (await stored_statuses(sessionmaker, (await make.project(owner)).id))[0]
    archived = await make.project(owner, is_archived=True)

    as_viewer = await client.post(
        TASKS,
        json={"title": "x", "project_id": project.id, "status_id": foreign.id},
        headers=make.headers(viewer),
    )
    in_archive = await client.post(
        TASKS,
        json={"title": "x", "project_id": archived.id, "status_id": foreign.id},
        headers=make.headers(owner),
    )

    assert_error(as_viewer, 403, "forbidden")
    assert_error(in_archive, 409, "project_archived")


async def test_moving_on_the_board_of_an_archived_project_or_as_a_viewer_is_refused(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")
    first, second = await make.tasks(project, 2)
    archived = await make.project(owner, is_archived=True)
    frozen, other = await make.tasks(archived, 2)

    as_viewer = await client.post(
        f"{TASKS}/{second.id}/move", json={"before_id": first.id}, headers=make.headers(viewer)
    )
    in_archive = await client.post(
        f"{TASKS}/{other.id}/move", json={"before_id": frozen.id}, headers=make.headers(owner)
    )

    assert_error(as_viewer, 403, "forbidden")
    assert_error(in_archive, 409, "project_archived")
