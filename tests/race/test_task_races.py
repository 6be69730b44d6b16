"""Races on task writes: creates, PATCHes, deletes, moves and bulk updates."""

from __future__ import annotations

from typing import Any

import pytest

from tests.race.conftest import RaceServer
from tests.support.race import (
    assert_one_winner,
    assert_statuses,
    delete,
    patch,
    post,
    race,
    version,
)

N = 24


async def test_parallel_creates_in_one_project_all_land(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    answers = await race(
        race_server.url,
        [
            post("/api/v1/tasks", headers, {"title": f"task {i}", "project_id": project.id})
            for i in range(N)
        ],
    )

    assert_statuses(answers, {201})
    listed = await race_server.get(
        "/api/v1/tasks", headers, params={"project_id": project.id, "limit": 100}
    )
    assert listed.headers["X-Total-Count"] == str(N)
    assert {task["id"] for task in listed.json()} == {answer.json()["id"] for answer in answers}


async def test_patches_without_if_match_all_land_in_some_order(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    task = await make.task(await make.project(owner))
    headers = make.headers(owner)
    rounds = 4
    bodies: list[dict[str, Any]] = [{"title": f"title {i}"} for i in range(N - 2)]
    bodies += [{"priority": 5}, {"description": "described"}]
    answers = await race(
        race_server.url,
        [patch(f"/api/v1/tasks/{task.id}", headers, body) for body in bodies],
        repeat=rounds,
    )

    assert_statuses(answers, {200})
    # Each change applied to the task as the one before left it: one version each, in turn.
    writes = len(bodies) * rounds
    assert sorted(version(answer) for answer in answers) == list(range(2, writes + 2))
    final = await race_server.get(f"/api/v1/tasks/{task.id}", headers)
    assert version(final) == writes + 1
    last_title = max(answers[: (N - 2) * rounds], key=version)
    assert final.json()["title"] == last_title.json()["title"]
    assert (final.json()["priority"], final.json()["description"]) == (5, "described")


async def test_patches_with_one_if_match_have_one_winner(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    task = await make.task(await make.project(owner))
    headers = {**make.headers(owner), "If-Match": '"1"'}
    answers = await race(
        race_server.url,
        [patch(f"/api/v1/tasks/{task.id}", headers, {"title": f"title {i}"}) for i in range(N)],
    )

    final = await race_server.get(f"/api/v1/tasks/{task.id}", make.headers(owner))
    assert_one_winner(answers, final, "title")


async def test_parallel_deletes_of_one_task_delete_it_once(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    task = await make.task(await make.project(owner))
    headers = make.headers(owner)
    answers = await race(race_server.url, [delete(f"/api/v1/tasks/{task.id}", headers)] * 12)

    counted = assert_statuses(answers, {204, 404})
    assert counted[204] == 1
    assert (await race_server.get(f"/api/v1/tasks/{task.id}", headers)).status_code == 404


async def test_moves_between_two_projects_never_lose_the_task(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    first, second = await make.project(owner), await make.project(owner)
    task = await make.task(first)
    headers = make.headers(owner)
    targets = [second.id if i % 2 == 0 else first.id for i in range(N)]
    answers = await race(
        race_server.url,
        [post(f"/api/v1/tasks/{task.id}/move", headers, {"project_id": to}) for to in targets],
    )

    assert_statuses(answers, {200})
    # The task ends where the last move that changed it put it, and stays visible.
    last = max(answers, key=version)
    final = await race_server.get(f"/api/v1/tasks/{task.id}", headers)
    assert final.status_code == 200
    assert final.json()["project"]["id"] == last.json()["project"]["id"]
    assert version(final) == version(last) > 1


async def test_delete_racing_moves_deletes_the_task(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    first, second = await make.project(owner), await make.project(owner)
    task = await make.task(first)
    headers = make.headers(owner)
    moves = [
        post(f"/api/v1/tasks/{task.id}/move", headers, {"project_id": to})
        for to in [second.id, first.id] * 8
    ]
    rounds = 3
    answers = await race(
        race_server.url,
        [*moves[:8], delete(f"/api/v1/tasks/{task.id}", headers), *moves[8:]],
        repeat=rounds,
    )

    # The delete's connection sent it first: the task was there to delete.
    deletes = answers[8 * rounds : 9 * rounds]
    assert [answer.status_code for answer in deletes] == [204] + [404] * (rounds - 1)
    assert_statuses(answers[: 8 * rounds] + answers[9 * rounds :], {200, 404})
    assert (await race_server.get(f"/api/v1/tasks/{task.id}", headers)).status_code == 404


@pytest.mark.parametrize("deleted", ["source", "target"])
async def test_moves_racing_a_projects_delete(race_server: RaceServer, deleted: str) -> None:
    make = race_server.make
    owner = await make()
    source, target = await make.project(owner), await make.project(owner)
    gone = source if deleted == "source" else target
    tasks = [await make.task(source) for _ in range(8)]
    headers = make.headers(owner)
    senders = [
        post(f"/api/v1/tasks/{task.id}/move", headers, {"project_id": target.id}) for task in tasks
    ]
    answers = await race(
        race_server.url,
        [*senders[:4], delete(f"/api/v1/projects/{gone.id}", headers), *senders[4:]],
    )

    assert answers[4].status_code == 204, answers[4].text
    moves = answers[:4] + answers[5:]
    assert_statuses(moves, {200, 404})
    # A move that landed came before the delete: the task went with the project it was in.
    for task, answer in zip(tasks, moves, strict=True):
        found = await race_server.get(f"/api/v1/tasks/{task.id}", headers)
        ended_in = target if answer.status_code == 200 else source
        if ended_in is gone:
            assert found.status_code == 404
        else:
            assert found.json()["project"]["id"] == ended_in.id


async def test_creates_racing_the_projects_delete(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    creates = [
        post("/api/v1/tasks", headers, {"title": f"task {i}", "project_id": project.id})
        for i in range(16)
    ]
    rounds = 3
    answers = await race(
        race_server.url,
        [*creates[:8], delete(f"/api/v1/projects/{project.id}", headers), *creates[8:]],
        repeat=rounds,
    )

    deletes = answers[8 * rounds : 9 * rounds]
    assert [answer.status_code for answer in deletes] == [204] + [404] * (rounds - 1)
    created = answers[: 8 * rounds] + answers[9 * rounds :]
    assert_statuses(created, {201, 404})
    # A create that landed came before the delete, which took the task with its project.
    for answer in created:
        if answer.status_code == 201:
            found = await race_server.get(f"/api/v1/tasks/{answer.json()['id']}", headers)
            assert found.status_code == 404


async def test_bulk_updates_of_the_same_tasks_apply_in_one_order(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    tasks = await make.tasks(project, 5)
    ids = [task.id for task in tasks]
    headers = make.headers(owner)
    answers = await race(
        race_server.url,
        [
            post(
                "/api/v1/tasks/bulk-update",
                headers,
                {"task_ids": ids if i % 2 else ids[::-1], "update_data": {"priority": i % 5 + 1}},
            )
            for i in range(12)
        ],
    )

    assert_statuses(answers, {200})
    found = [await race_server.get(f"/api/v1/tasks/{task_id}", headers) for task_id in ids]
    assert {version(answer) for answer in found} == {1 + 12}
    assert len({answer.json()["priority"] for answer in found}) == 1


async def test_bulk_update_racing_a_delete_counts_what_it_changed(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    tasks = await make.tasks(project, 3)
    ids = [task.id for task in tasks]
    headers = make.headers(owner)
    bulk = post(
        "/api/v1/tasks/bulk-update", headers, {"task_ids": ids, "update_data": {"priority": 4}}
    )
    answers = await race(
        race_server.url, [bulk] * 6 + [delete(f"/api/v1/tasks/{ids[0]}", headers)] + [bulk] * 6
    )

    assert answers[6].status_code == 204
    bulks = answers[:6] + answers[7:]
    assert_statuses(bulks, {200, 404})
    # All or nothing: a bulk update that answered 200 changed all three tasks.
    accepted = sum(1 for answer in bulks if answer.status_code == 200)
    for answer in bulks:
        if answer.status_code == 200:
            assert answer.json() == {"updated_count": 3}
    for task_id in ids[1:]:
        found = await race_server.get(f"/api/v1/tasks/{task_id}", headers)
        assert version(found) == 1 + accepted


async def test_creates_racing_an_archive(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    creates = [
        post("/api/v1/tasks", headers, {"title": f"task {i}", "project_id": project.id})
        for i in range(12)
    ]
    archive = patch(f"/api/v1/projects/{project.id}", headers, {"is_archived": True})
    answers = await race(race_server.url, [*creates[:6], archive, *creates[6:]])

    assert answers[6].status_code == 200
    counted = assert_statuses(answers[:6] + answers[7:], {201, 409})
    listed = await race_server.get(
        "/api/v1/tasks", headers, params={"project_id": project.id, "limit": 100}
    )
    assert listed.headers["X-Total-Count"] == str(counted[201])
