"""Tasks carry labels: label_ids on create and change, the label_id filter, bulk changes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support import sql
from tests.support.api import assert_error
from tests.support.labels import (
    create_task,
    label_names,
    labels_url,
    new_label,
    new_task,
    patch_task,
    stored_label_ids,
)
from tests.support.tasks import TASKS, assert_422_at, bulk, listed


async def test_a_task_is_created_with_labels_shown_by_name(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    zeta = await new_label(client, headers, project, "zeta", "#000001")
    alpha = await new_label(client, headers, project, "Alpha", "#000002")

    response = await create_task(client, headers, project, label_ids=[zeta["id"], alpha["id"]])

    assert response.status_code == 201, response.text
    assert response.json()["labels"] == [
        {"id": alpha["id"], "name": "Alpha", "color": "#000002"},
        {"id": zeta["id"], "name": "zeta", "color": "#000001"},
    ]
    task_id = response.json()["id"]
    assert await stored_label_ids(sessionmaker, task_id) == {zeta["id"], alpha["id"]}
    read = await client.get(f"{TASKS}/{task_id}", headers=headers)
    assert read.json()["labels"] == response.json()["labels"]


async def test_a_task_without_labels_shows_an_empty_list(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)

    task = await new_task(client, make.headers(owner), project)

    assert task["labels"] == []


async def test_labels_of_another_project_or_unknown_are_422_on_create_and_nothing_is_created(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, stranger = await make(), await make()
    project, mine_too = await make.project(owner), await make.project(owner)
    foreign = await make.project(stranger)
    headers = make.headers(owner)
    mine = await new_label(client, headers, project, "mine")
    other = await new_label(client, headers, mine_too, "other")
    theirs = await new_label(client, make.headers(stranger), foreign, "theirs")

    for label_ids in ([other["id"]], [theirs["id"]], [mine["id"], 987_654_321]):
        response = await create_task(client, headers, project, label_ids=label_ids)
        assert_422_at(response, ["body", "label_ids"])
    assert await listed(client, headers, project_id=project.id) == ([], 0)


async def test_create_in_a_project_the_caller_cannot_see_is_404_even_with_labels(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)
    label = await new_label(client, make.headers(owner), project, "x")

    response = await create_task(client, make.headers(stranger), project, label_ids=[label["id"]])

    assert_error(response, 404, "not_found")


async def test_patch_replaces_the_labels_and_bumps_the_version(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    one, two, three = [
        await new_label(client, headers, project, n) for n in ("one", "two", "three")
    ]
    task = await new_task(client, headers, project, label_ids=[one["id"], two["id"]])

    replaced = await patch_task(client, headers, task["id"], label_ids=[three["id"], two["id"]])
    cleared = await patch_task(client, headers, task["id"], label_ids=[])

    assert label_names(replaced) == ["three", "two"]
    assert replaced.headers["ETag"] == '"2"'
    assert cleared.json()["labels"] == []
    assert cleared.headers["ETag"] == '"3"'
    assert await stored_label_ids(sessionmaker, task["id"]) == set()


async def test_patch_of_other_fields_keeps_and_shows_the_labels(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    label = await new_label(client, headers, project, "kept")
    task = await new_task(client, headers, project, label_ids=[label["id"]])

    response = await patch_task(client, headers, task["id"], title="renamed")

    assert label_names(response) == ["kept"]


async def test_patch_with_a_foreign_label_is_422_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project, other = await make.project(owner), await make.project(owner)
    headers = make.headers(owner)
    mine = await new_label(client, headers, project, "mine")
    elsewhere = await new_label(client, headers, other, "elsewhere")
    task = await new_task(client, headers, project, label_ids=[mine["id"]])

    response = await patch_task(
        client, headers, task["id"], title="changed", label_ids=[elsewhere["id"]]
    )

    assert_422_at(response, ["body", "label_ids"])
    read = await client.get(f"{TASKS}/{task['id']}", headers=headers)
    assert read.json()["title"] == task["title"]
    assert read.headers["ETag"] == '"1"'
    assert await stored_label_ids(sessionmaker, task["id"]) == {mine["id"]}


async def test_label_ids_null_is_refused(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)
    task = await make.task(project)

    response = await patch_task(client, make.headers(owner), task.id, label_ids=None)

    assert_422_at(response, ["body", "label_ids"])


async def test_a_viewer_cannot_label_a_task(client: AsyncClient, make: DomainFactory) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")
    label = await new_label(client, make.headers(owner), project, "x")
    task = await make.task(project)

    response = await patch_task(client, make.headers(viewer), task.id, label_ids=[label["id"]])

    assert_error(response, 403, "forbidden")


async def test_renaming_or_deleting_a_label_shows_on_its_tasks(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    keep = await new_label(client, headers, project, "keep")
    drop = await new_label(client, headers, project, "drop")
    task = await new_task(client, headers, project, label_ids=[keep["id"], drop["id"]])

    await client.patch(labels_url(project, keep["id"]), json={"name": "Kept"}, headers=headers)
    await client.delete(labels_url(project, drop["id"]), headers=headers)

    assert label_names(await client.get(f"{TASKS}/{task['id']}", headers=headers)) == ["Kept"]


# --- the label_id filter ----------------------------------------------------------------------


async def test_the_label_id_filter_keeps_tasks_that_carry_every_label_given(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    red, blue = (
        await new_label(client, headers, project, "red"),
        await new_label(client, headers, project, "blue"),
    )
    both = await new_task(client, headers, project, label_ids=[red["id"], blue["id"]])
    only_red = await new_task(client, headers, project, label_ids=[red["id"]])
    await new_task(client, headers, project)

    reds = await listed(client, headers, label_id=red["id"], sort="created_at")
    reds_and_blues = await listed(client, headers, label_id=[red["id"], blue["id"]])

    assert reds == ([both["id"], only_red["id"]], 2)
    assert reds_and_blues == ([both["id"]], 1)


async def test_the_label_id_filter_shows_nothing_of_another_users_project(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)
    label = await new_label(client, make.headers(owner), project, "private")
    await new_task(client, make.headers(owner), project, label_ids=[label["id"]])

    assert await listed(client, make.headers(stranger), label_id=label["id"]) == ([], 0)


async def test_the_label_id_filter_validates_its_values(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()

    response = await client.get(TASKS, params={"label_id": "zero"}, headers=make.headers(owner))

    assert_error(response, 422, "validation_error")


# --- bulk -------------------------------------------------------------------------------------


async def test_bulk_adds_and_removes_labels(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    old, new = (
        await new_label(client, headers, project, "old"),
        await new_label(client, headers, project, "new"),
    )
    first = await new_task(client, headers, project, label_ids=[old["id"]])
    second = await new_task(client, headers, project, label_ids=[old["id"], new["id"]])

    response = await bulk(
        client,
        headers,
        [first["id"], second["id"]],
        add_label_ids=[new["id"]],
        remove_label_ids=[old["id"]],
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"updated_count": 2}
    for task in (first, second):
        assert await stored_label_ids(sessionmaker, task["id"]) == {new["id"]}
        read = await client.get(f"{TASKS}/{task['id']}", headers=headers)
        assert label_names(read) == ["new"]
        assert read.headers["ETag"] == '"2"'


async def test_bulk_with_a_label_that_is_not_of_every_tasks_project_is_422(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project, other = await make.project(owner), await make.project(owner)
    headers = make.headers(owner)
    label = await new_label(client, headers, project, "only here")
    here = await new_task(client, headers, project)
    there = await new_task(client, headers, other)

    added = await bulk(client, headers, [here["id"], there["id"]], add_label_ids=[label["id"]])
    removed = await bulk(client, headers, [there["id"]], remove_label_ids=[label["id"]])

    assert_422_at(added, ["body", "update_data", "add_label_ids"])
    assert_422_at(removed, ["body", "update_data", "remove_label_ids"])
    assert await stored_label_ids(sessionmaker, here["id"]) == set()


# --- a fixed number of statements -----------------------------------------------------------


async def _label_tasks(
    client: AsyncClient, headers: dict[str, str], project: Any, labels: list[int], count: int
) -> None:
    for _ in range(count):
        await new_task(client, headers, project, label_ids=labels)


async def test_a_list_of_many_labelled_tasks_takes_as_many_statements_as_a_list_of_two(
    client: AsyncClient, make: DomainFactory, app: FastAPI
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    labels = [(await new_label(client, headers, project, f"label {n}"))["id"] for n in range(3)]
    await _label_tasks(client, headers, project, labels, 2)
    await listed(client, headers, limit=50)  # warm up: connection set-up is not counted

    with sql.statements(app) as few:
        small, _ = await listed(client, headers, limit=50)
    await _label_tasks(client, headers, project, labels, 20)
    with sql.statements(app) as many:
        response = await client.get(TASKS, params={"limit": 50}, headers=headers)

    assert (len(small), len(response.json())) == (2, 22)
    assert all(len(task["labels"]) == 3 for task in response.json())
    assert len(few) == len(many), (few, many)
    assert len(few) <= 2, few  # the caller, then the page with its labels


async def test_reading_one_labelled_task_takes_a_fixed_number_of_statements(
    client: AsyncClient, make: DomainFactory, app: FastAPI
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    labels = [(await new_label(client, headers, project, f"label {n}"))["id"] for n in range(5)]
    task = await new_task(client, headers, project, label_ids=labels)
    await client.get(f"{TASKS}/{task['id']}", headers=headers)

    with sql.statements(app) as seen:
        response = await client.get(f"{TASKS}/{task['id']}", headers=headers)

    assert len(response.json()["labels"]) == 5
    assert len(seen) <= 2, seen  # the caller, then the task with its labels


async def test_a_change_answers_the_labels_whatever_their_names(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    odd = [await new_label(client, headers, project, name) for name in ("b,1:2", "a:b", "Ünïcode")]
    task = await new_task(client, headers, project, label_ids=[label["id"] for label in odd])

    changed = await patch_task(client, headers, task["id"], priority=1)
    read = await client.get(f"{TASKS}/{task['id']}", headers=headers)

    assert label_names(changed) == ["a:b", "b,1:2", "Ünïcode"]
    assert changed.json()["labels"] == read.json()["labels"] == task["labels"]
