"""Races on comments: the task's comment_count always equals its comments."""

from __future__ import annotations

from sqlalchemy import func, select

from taskflow.comments.models import Comment
from taskflow.tasks.models import Task
from tests.race.conftest import RaceServer
from tests.support.race import assert_statuses, delete, post, race

N = 24


async def _count_and_rows(race_server: RaceServer, task_id: int) -> tuple[int | None, int]:
    async with race_server.make.sessionmaker() as session:
        count = await session.scalar(select(Task.comment_count).where(Task.id == task_id))
        rows = await session.scalar(
            select(func.count()).select_from(Comment).where(Comment.task_id == task_id)
        )
        return count, int(rows or 0)


def _comments(task_id: int) -> str:
    return f"/api/v1/tasks/{task_id}/comments"


async def test_parallel_posts_on_one_task_all_land_and_are_all_counted(
    race_server: RaceServer,
) -> None:
    make = race_server.make
    owner, editor = await make(), await make()
    project = await make.project(owner)
    await make.member(project, editor, "editor")
    task = await make.task(project)
    people = [make.headers(owner), make.headers(editor)]
    answers = await race(
        race_server.url,
        [post(_comments(task.id), people[i % 2], {"body": f"comment {i}"}) for i in range(N)],
        repeat=2,
    )

    assert_statuses(answers, {201})
    assert await _count_and_rows(race_server, task.id) == (2 * N, 2 * N)
    read = await race_server.get(f"/api/v1/tasks/{task.id}", people[0])
    assert (read.json()["comment_count"], read.headers["ETag"]) == (2 * N, '"1"')
    listed = await race_server.get(_comments(task.id), people[0], params={"limit": 100})
    assert listed.headers["X-Total-Count"] == str(2 * N)
    assert {c["id"] for c in listed.json()} == {a.json()["id"] for a in answers}


async def test_posts_and_deletes_racing_keep_the_count_equal_to_the_comments(
    race_server: RaceServer,
) -> None:
    make = race_server.make
    owner = await make()
    task = await make.task(await make.project(owner))
    headers = make.headers(owner)
    first = await race(
        race_server.url, [post(_comments(task.id), headers, {"body": "x"}) for _ in range(N)]
    )
    ids = [answer.json()["id"] for answer in first]
    senders = [delete(f"/api/v1/comments/{comment_id}", headers) for comment_id in ids]
    senders += [post(_comments(task.id), headers, {"body": "y"}) for _ in range(N)]
    senders += [delete(f"/api/v1/comments/{ids[0]}", headers)] * 4

    answers = await race(race_server.url, senders)

    counted = assert_statuses(answers, {201, 204, 404})
    assert (counted[201], counted[204], counted[404]) == (N, N, 4)
    assert await _count_and_rows(race_server, task.id) == (N, N)


async def test_posts_racing_a_task_delete_leave_no_comment_behind(
    race_server: RaceServer,
) -> None:
    make = race_server.make
    owner = await make()
    task = await make.task(await make.project(owner))
    headers = make.headers(owner)
    senders = [post(_comments(task.id), headers, {"body": f"c {i}"}) for i in range(N)]
    senders.insert(N // 2, delete(f"/api/v1/tasks/{task.id}", headers))

    answers = await race(race_server.url, senders)

    counted = assert_statuses(answers, {201, 204, 404})
    assert counted[204] == 1
    assert counted[201] + counted[404] == N
    async with make.sessionmaker() as session:
        left = await session.scalar(
            select(func.count()).select_from(Comment).where(Comment.task_id == task.id)
        )
    assert left == 0
