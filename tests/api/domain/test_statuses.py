"""A project's workflow statuses: /api/v1/projects/{id}/statuses[/{status_id}]."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import assert_error, error_locs
from tests.support.statuses import (
    PROJECTS,
    events,
    names,
    status_named,
    statuses_url,
    stored_statuses,
    stored_tasks,
)

Sessions = async_sessionmaker[AsyncSession]


async def test_a_new_project_starts_with_to_do_in_progress_and_done(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    created = await client.post(PROJECTS, json={"name": "Board"}, headers=make.headers(owner))
    assert created.status_code == 201, created.text

    response = await client.get(statuses_url(created.json()["id"]), headers=make.headers(owner))

    assert response.status_code == 200, response.text
    body = response.json()
    assert [(s["name"], s["category"], s["position"], s["color"]) for s in body] == [
        ("To do", "todo", 0, None),
        ("In progress", "in_progress", 1, None),
        ("Done", "done", 2, None),
    ]
    assert {s["project_id"] for s in body} == {created.json()["id"]}


async def test_create_adds_a_status_last_trimmed_with_its_location(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner, editor = await make(), await make()
    project = await make.project(owner)
    await make.member(project, editor, "editor")

    response = await client.post(
        statuses_url(project.id),
        json={"name": "  Review  ", "category": "in_progress", "color": "#A1b2C3"},
        headers=make.headers(editor),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "Review"
    assert body["position"] == 3
    assert body["color"] == "#A1b2C3"
    assert response.headers["Location"].endswith(f"/statuses/{body['id']}")
    assert names(await stored_statuses(sessionmaker, project.id)) == [
        "To do",
        "In progress",
        "Done",
        "Review",
    ]
    (event,) = await events(sessionmaker, project.id, "status.created")
    assert event.actor_id == editor.id
    assert event.changes["name"] == [None, "Review"]


def _names_of(statuses: list[Any]) -> list[str]:
    return [s.name for s in statuses]


async def test_create_at_a_position_renumbers_the_ones_after_it(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.post(
        statuses_url(project.id),
        json={"name": "Ready", "category": "todo", "position": 1},
        headers=make.headers(owner),
    )

    assert response.status_code == 201, response.text
    stored = await stored_statuses(sessionmaker, project.id)
    assert [(s.name, s.position) for s in stored] == [
        ("To do", 0),
        ("Ready", 1),
        ("In progress", 2),
        ("Done", 3),
    ]


@pytest.mark.parametrize("name", ["done", "DONE", " Done "])
async def test_a_duplicate_name_ignoring_case_is_409_conflict(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions, name: str
) -> None:
    owner = await make()
    project = await make.project(owner)

    created = await client.post(
        statuses_url(project.id),
        json={"name": name, "category": "done"},
        headers=make.headers(owner),
    )
    doing = await status_named(sessionmaker, project, "In progress")
    renamed = await client.patch(
        f"{statuses_url(project.id)}/{doing.id}", json={"name": name}, headers=make.headers(owner)
    )

    assert_error(created, 409, "conflict")
    assert_error(renamed, 409, "conflict")
    assert len(await stored_statuses(sessionmaker, project.id)) == 3


async def test_the_same_name_in_another_project_is_fine(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    response = await client.post(
        statuses_url(project.id),
        json={"name": "QA", "category": "todo"},
        headers=make.headers(owner),
    )
    other = await client.post(
        statuses_url((await make.project(owner)).id),
        json={"name": "qa", "category": "todo"},
        headers=make.headers(owner),
    )
    assert (response.status_code, other.status_code) == (201, 201), other.text


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"category": "todo"}, ["body", "name"]),
        ({"name": "", "category": "todo"}, ["body", "name"]),
        ({"name": "   ", "category": "todo"}, ["body", "name"]),
        ({"name": "x" * 51, "category": "todo"}, ["body", "name"]),
        ({"name": "Ok"}, ["body", "category"]),
        ({"name": "Ok", "category": "blocked"}, ["body", "category"]),
        ({"name": "Ok", "category": "todo", "color": "red"}, ["body", "color"]),
        ({"name": "Ok", "category": "todo", "color": "#12345G"}, ["body", "color"]),
        ({"name": "Ok", "category": "todo", "position": -1}, ["body", "position"]),
        ({"name": "Ok", "category": "todo", "extra": 1}, ["body", "extra"]),
    ],
)
async def test_create_refuses_an_invalid_body_with_422(
    client: AsyncClient, make: DomainFactory, body: dict[str, Any], loc: list[Any]
) -> None:
    owner = await make()
    project = await make.project(owner)
    response = await client.post(statuses_url(project.id), json=body, headers=make.headers(owner))
    assert loc in error_locs(response)


async def test_patch_moves_a_status_and_renumbers_the_others(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    done = await status_named(sessionmaker, project, "Done")

    response = await client.patch(
        f"{statuses_url(project.id)}/{done.id}",
        json={"position": 0, "color": "#000000", "name": "Finished"},
        headers=make.headers(owner),
    )

    assert response.status_code == 200, response.text
    assert response.json()["position"] == 0
    stored = await stored_statuses(sessionmaker, project.id)
    assert [(s.name, s.position) for s in stored] == [
        ("Finished", 0),
        ("To do", 1),
        ("In progress", 2),
    ]
    last = await client.patch(
        f"{statuses_url(project.id)}/{done.id}", json={"position": 50}, headers=make.headers(owner)
    )
    assert last.json()["position"] == 2
    (event, _) = await events(sessionmaker, project.id, "status.updated")
    assert event.changes["name"] == ["Done", "Finished"]
    assert event.changes["position"] == [2, 0]


async def test_a_category_change_completes_and_reopens_its_tasks(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    doing = await status_named(sessionmaker, project, "In progress")
    task = await make.task(project, status_id=doing.id)
    url = f"{statuses_url(project.id)}/{doing.id}"

    to_done = await client.patch(url, json={"category": "done"}, headers=make.headers(owner))
    (completed,) = await stored_tasks(sessionmaker, task.id)
    back = await client.patch(url, json={"category": "in_progress"}, headers=make.headers(owner))
    (reopened,) = await stored_tasks(sessionmaker, task.id)

    assert (to_done.status_code, back.status_code) == (200, 200), back.text
    assert completed.is_completed and completed.completed_at is not None
    assert completed.version == task.version + 1
    assert not reopened.is_completed and reopened.completed_at is None


async def test_a_project_keeps_a_done_and_a_not_done_status(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    todo = await status_named(sessionmaker, project, "To do")
    doing = await status_named(sessionmaker, project, "In progress")
    done = await status_named(sessionmaker, project, "Done")
    url = statuses_url(project.id)
    headers = make.headers(owner)

    assert (await client.delete(f"{url}/{todo.id}", headers=headers)).status_code == 204
    last_done = await client.delete(f"{url}/{done.id}", headers=headers)
    undone = await client.patch(f"{url}/{done.id}", json={"category": "todo"}, headers=headers)
    all_done = await client.patch(f"{url}/{doing.id}", json={"category": "done"}, headers=headers)
    last_open = await client.delete(f"{url}/{doing.id}", headers=headers)

    for response in (last_done, undone, all_done, last_open):
        assert_error(response, 409, "status_required")
    assert names(await stored_statuses(sessionmaker, project.id)) == ["In progress", "Done"]
    assert [s.position for s in await stored_statuses(sessionmaker, project.id)] == [0, 1]


async def test_deleting_a_status_with_tasks_needs_move_to(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner)
    todo = await status_named(sessionmaker, project, "To do")
    done = await status_named(sessionmaker, project, "Done")
    kept = await make.task(project, status_id=done.id, is_completed=True)
    first, second = await make.tasks(project, 2)
    url = f"{statuses_url(project.id)}/{todo.id}"

    refused = await client.delete(url, headers=make.headers(owner))
    assert_error(refused, 409, "status_in_use")
    other_project = await make.project(owner)
    foreign = (await stored_statuses(sessionmaker, other_project.id))[0]
    for move_to in (todo.id, foreign.id, 987_654_321):
        wrong = await client.delete(url, params={"move_to": move_to}, headers=make.headers(owner))
        assert ["query", "move_to"] in error_locs(wrong)

    response = await client.delete(url, params={"move_to": done.id}, headers=make.headers(owner))

    assert response.status_code == 204, response.text
    moved = await stored_tasks(sessionmaker, kept.id, first.id, second.id)
    assert {t.status_id for t in moved} == {done.id}
    assert all(t.is_completed and t.completed_at is not None for t in moved[1:])
    assert moved[1].version > first.version
    # The moved tasks go after the target's own, in their order.
    assert moved[0].position < moved[1].position < moved[2].position
    (event,) = await events(sessionmaker, project.id, "status.deleted")
    assert event.changes["moved_to"] == [None, done.id]


async def test_viewers_read_statuses_but_may_not_change_them(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")
    todo = await status_named(sessionmaker, project, "To do")
    url, headers = statuses_url(project.id), make.headers(viewer)

    read = await client.get(url, headers=headers)
    created = await client.post(url, json={"name": "X", "category": "todo"}, headers=headers)
    changed = await client.patch(f"{url}/{todo.id}", json={"name": "Y"}, headers=headers)
    deleted = await client.delete(f"{url}/{todo.id}", headers=headers)

    assert read.status_code == 200
    for response in (created, changed, deleted):
        assert_error(response, 403, "forbidden")
    assert names(await stored_statuses(sessionmaker, project.id))[0] == "To do"


async def test_an_archived_projects_statuses_are_read_only(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    project = await make.project(owner, is_archived=True)
    doing = await status_named(sessionmaker, project, "In progress")
    url, headers = statuses_url(project.id), make.headers(owner)

    read = await client.get(url, headers=headers)
    created = await client.post(url, json={"name": "X", "category": "todo"}, headers=headers)
    changed = await client.patch(f"{url}/{doing.id}", json={"name": "Y"}, headers=headers)
    deleted = await client.delete(f"{url}/{doing.id}", headers=headers)

    assert read.status_code == 200
    for response in (created, changed, deleted):
        assert_error(response, 409, "project_archived")


async def test_another_users_project_answers_404_on_every_route(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)
    todo = await status_named(sessionmaker, project, "To do")
    url, headers = statuses_url(project.id), make.headers(stranger)

    responses = [
        await client.get(url, headers=headers),
        await client.post(url, json={"name": "X", "category": "todo"}, headers=headers),
        await client.patch(f"{url}/{todo.id}", json={"name": "Y"}, headers=headers),
        await client.delete(f"{url}/{todo.id}", headers=headers),
    ]

    for response in responses:
        assert_error(response, 404, "not_found")
    assert names(await stored_statuses(sessionmaker, project.id))[0] == "To do"


async def test_a_status_of_another_project_answers_404(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner = await make()
    mine, other = await make.project(owner), await make.project(owner)
    foreign = (await stored_statuses(sessionmaker, other.id))[0]
    url, headers = statuses_url(mine.id), make.headers(owner)

    changed = await client.patch(f"{url}/{foreign.id}", json={"name": "Y"}, headers=headers)
    deleted = await client.delete(f"{url}/{foreign.id}", headers=headers)

    assert_error(changed, 404, "not_found")
    assert_error(deleted, 404, "not_found")


async def test_without_credentials_every_route_is_401(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    url = statuses_url(project.id)

    responses = [
        await client.get(url),
        await client.post(url, json={"name": "X", "category": "todo"}),
        await client.patch(f"{url}/1", json={"name": "Y"}),
        await client.delete(f"{url}/1"),
    ]

    for response in responses:
        assert_error(response, 401, "not_authenticated")
