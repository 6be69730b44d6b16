"""Races on task trees and labels: cycles, depth, moves under new subtasks, duplicate names,
changes naming one version of a label."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from taskflow.tasks.models import Task
from tests.race.conftest import RaceServer
from tests.support.race import assert_one_winner, assert_statuses, patch, post, race

PAIRS = 8
TASKS = "/api/v1/tasks"


async def _tree(race_server: RaceServer, project_id: int) -> dict[int, tuple[int | None, int]]:
    """id -> (parent_id, project_id) of the project's tasks, as stored."""
    async with race_server.make.sessionmaker() as session:
        rows = await session.execute(
            select(Task.id, Task.parent_id, Task.project_id).where(Task.project_id == project_id)
        )
        return {row.id: (row.parent_id, row.project_id) for row in rows}


def _depth(tree: dict[int, tuple[int | None, int]], task_id: int) -> int:
    """Levels from the task up to its top (a cycle would never end: capped, and it fails)."""
    levels, current = 1, tree[task_id][0]
    while current is not None:
        levels += 1
        assert levels <= 10, f"a cycle through {task_id}"
        current = tree[current][0]
    return levels


async def test_two_patches_making_a_cycle_do_not_both_succeed(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    pairs = [(await make.task(project), await make.task(project)) for _ in range(PAIRS)]
    senders = []
    for first, second in pairs:
        senders += [
            patch(f"{TASKS}/{first.id}", headers, {"parent_id": second.id}),
            patch(f"{TASKS}/{second.id}", headers, {"parent_id": first.id}),
        ]

    answers = await race(race_server.url, senders)

    # 409: PostgreSQL picked this request as a deadlock's victim; nothing of it was written.
    assert_statuses(answers, {200, 409, 422})
    for index in range(PAIRS):
        both = answers[2 * index : 2 * index + 2]
        assert [a.status_code for a in both].count(200) <= 1, [a.text for a in both]
    tree = await _tree(race_server, project.id)
    for task_id in tree:
        _depth(tree, task_id)


async def test_two_changes_that_together_nest_too_deep_do_not_both_succeed(
    race_server: RaceServer,
) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    x1 = await make.task(project)
    x2 = await make.task(project, parent_id=x1.id)
    x3 = await make.task(project, parent_id=x2.id)
    y1 = await make.task(project)
    await make.task(project, parent_id=y1.id)
    z = await make.task(project)

    # Each alone nests 5 levels at most; both would make z-x1-x2-x3-y1-y2, six levels.
    answers = await race(
        race_server.url,
        [
            patch(f"{TASKS}/{y1.id}", headers, {"parent_id": x3.id}),
            patch(f"{TASKS}/{x1.id}", headers, {"parent_id": z.id}),
        ],
    )

    counted = assert_statuses(answers, {200, 409, 422})
    assert counted[200] <= 1
    tree = await _tree(race_server, project.id)
    assert max(_depth(tree, task_id) for task_id in tree) <= 5


async def test_subtasks_created_while_their_parent_moves_end_up_beside_it(
    race_server: RaceServer,
) -> None:
    make = race_server.make
    owner = await make()
    source, target = await make.project(owner), await make.project(owner)
    headers = make.headers(owner)
    parent = await make.task(source)
    creates = [
        post(
            TASKS, headers, {"title": f"child {i}", "project_id": source.id, "parent_id": parent.id}
        )
        for i in range(12)
    ]

    answers = await race(
        race_server.url,
        [*creates, post(f"{TASKS}/{parent.id}/move", headers, {"project_id": target.id})],
    )

    assert_statuses(answers, {200, 201, 409, 422})
    assert answers[-1].status_code == 200, answers[-1].text
    moved = await _tree(race_server, target.id)
    left = await _tree(race_server, source.id)
    # Every subtask created lies in its parent's project: moved with it, or refused.
    assert all(parent_id != parent.id for parent_id, _ in left.values())
    created = {a.json()["id"] for a in answers[:-1] if a.status_code == 201}
    assert created <= set(moved)


async def test_parallel_creates_of_one_label_name_make_one_label(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    body: dict[str, Any] = {"name": "Same", "color": "#000000"}
    answers = await race(
        race_server.url,
        [
            post(f"/api/v1/projects/{project.id}/labels", headers, {**body, "name": name})
            for name in ["Same", "same", "SAME", "sAmE"] * 3
        ],
    )

    counted = assert_statuses(answers, {201, 409})
    assert counted[201] == 1
    listed = await race_server.get(f"/api/v1/projects/{project.id}/labels", headers)
    assert len(listed.json()) == 1


async def test_patches_naming_one_version_of_a_label_let_exactly_one_through(
    race_server: RaceServer,
) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    (created,) = await race(
        race_server.url,
        [
            post(
                f"/api/v1/projects/{project.id}/labels",
                headers,
                {"name": "bug", "color": "#000000"},
            )
        ],
    )
    url = f"/api/v1/projects/{project.id}/labels/{created.json()['id']}"
    read = {**headers, "If-Match": created.headers["ETag"]}

    answers = await race(
        race_server.url, [patch(url, read, {"name": f"bug {i}"}) for i in range(2 * PAIRS)]
    )

    assert_one_winner(answers, await race_server.get(url, headers), "name")
