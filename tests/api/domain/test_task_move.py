"""Moving a task to another project through POST /api/v1/tasks/{id}/move."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import assert_error, error_locs
from tests.support.tasks import TASKS, snapshots

# --- move ------------------------------------------------------------------------------------


async def test_move_by_an_editor_of_both_projects_answers_the_task_in_its_new_project(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    alice, bob, editor = await make(), await make(), await make()
    source, target = await make.project(alice), await make.project(bob, name="Target")
    await make.member(source, editor, "editor")
    await make.member(target, editor, "editor")
    task = await make.task(source, title="Travels")

    response = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(editor)
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == task.id
    assert body["title"] == "Travels"
    assert body["project"] == {"id": target.id, "name": "Target"}
    assert response.headers["ETag"] == '"2"'
    assert (await snapshots(sessionmaker, [task.id]))[task.id].project_id == target.id
    # alice no longer sees it; bob now does
    gone = await client.get(f"{TASKS}/{task.id}", headers=make.headers(alice))
    assert_error(gone, 404, "not_found")
    seen = await client.get(f"{TASKS}/{task.id}", headers=make.headers(bob))
    assert seen.status_code == 200


async def test_move_clears_an_assignee_who_is_not_in_the_target_project(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, helper = await make(), await make()
    source, target = await make.project(owner), await make.project(owner)
    await make.member(source, helper, "editor")
    task = await make.task(source, assignee_id=helper.id)

    response = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(owner)
    )

    assert response.status_code == 200, response.text
    assert response.json()["assignee"] is None


async def test_move_keeps_an_assignee_who_is_in_the_target_project(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, helper, other_owner = await make(), await make(), await make()
    source, target = await make.project(owner), await make.project(other_owner)
    await make.member(source, helper, "editor")
    await make.member(target, helper, "viewer")
    await make.member(target, owner, "editor")
    as_member = await make.task(source, assignee_id=helper.id)
    as_owner = await make.task(source, assignee_id=other_owner.id)
    await make.member(source, other_owner, "viewer")

    moved = [
        await client.post(
            f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(owner)
        )
        for task in (as_member, as_owner)
    ]

    assert [r.status_code for r in moved] == [200, 200], [r.text for r in moved]
    assert moved[0].json()["assignee"]["id"] == helper.id
    assert moved[1].json()["assignee"]["id"] == other_owner.id


async def test_move_as_viewer_of_the_target_is_403_and_leaves_the_task(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, other, caller = await make(), await make(), await make()
    source, target = await make.project(owner), await make.project(other)
    await make.member(source, caller, "editor")
    await make.member(target, caller, "viewer")
    task = await make.task(source)

    response = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(caller)
    )

    assert_error(response, 403, "forbidden")
    stored = (await snapshots(sessionmaker, [task.id]))[task.id]
    assert (stored.project_id, stored.version) == (source.id, 1)


async def test_move_as_viewer_of_the_source_is_403_and_leaves_the_task(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, caller = await make(), await make()
    source = await make.project(owner)
    target = await make.project(caller)
    await make.member(source, caller, "viewer")
    task = await make.task(source)

    response = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(caller)
    )

    assert_error(response, 403, "forbidden")
    assert (await snapshots(sessionmaker, [task.id]))[task.id].project_id == source.id


async def test_move_to_an_invisible_project_is_404_like_a_missing_one(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, stranger = await make(), await make()
    source, hidden = await make.project(owner), await make.project(stranger)
    task = await make.task(source)
    headers = make.headers(owner)

    to_hidden = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": hidden.id}, headers=headers
    )
    to_missing = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": 10**12}, headers=headers
    )

    assert (
        assert_error(to_hidden, 404, "not_found")["detail"]
        == assert_error(to_missing, 404, "not_found")["detail"]
    )
    assert (await snapshots(sessionmaker, [task.id]))[task.id].project_id == source.id


async def test_move_of_another_users_task_is_404_and_leaves_it(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    alice, bob = await make(), await make()
    alices_task = await make.task(await make.project(alice))
    bobs_project = await make.project(bob)

    response = await client.post(
        f"{TASKS}/{alices_task.id}/move",
        json={"project_id": bobs_project.id},
        headers=make.headers(bob),
    )

    assert_error(response, 404, "not_found")
    stored = (await snapshots(sessionmaker, [alices_task.id]))[alices_task.id]
    assert stored.project_id != bobs_project.id


@pytest.mark.parametrize("archived", ["source", "target"])
async def test_move_out_of_or_into_an_archived_project_is_409(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    archived: str,
) -> None:
    owner = await make()
    source = await make.project(owner, is_archived=archived == "source")
    target = await make.project(owner, is_archived=archived == "target")
    task = await make.task(source)

    response = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(owner)
    )

    assert_error(response, 409, "project_archived")
    stored = (await snapshots(sessionmaker, [task.id]))[task.id]
    assert (stored.project_id, stored.version) == (source.id, 1)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body"]),
        ({"project_id": 0}, ["body", "project_id"]),
        ({"project_id": "PROJECT", "title": "x"}, ["body", "title"]),
        ({"before_id": 1, "after_id": 2}, ["body"]),
        ({"status_id": 0}, ["body", "status_id"]),
    ],
    ids=["nowhere", "zero", "unknown-field", "before-and-after", "zero-status"],
)
async def test_move_refuses_an_invalid_body_with_422(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
    loc: list[Any],
) -> None:
    owner = await make()
    source, target = await make.project(owner), await make.project(owner)
    task = await make.task(source)
    if body.get("project_id") == "PROJECT":
        body = {**body, "project_id": target.id}

    response = await client.post(f"{TASKS}/{task.id}/move", json=body, headers=make.headers(owner))

    assert loc in error_locs(response)
    assert (await snapshots(sessionmaker, [task.id]))[task.id].project_id == source.id
