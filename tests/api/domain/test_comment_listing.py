"""A task's comments: oldest first, paged by cursor like the task list, only that task's."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.users.models import User
from tests.factories import DomainFactory
from tests.support import sql
from tests.support.api import assert_error, error_locs, links
from tests.support.comments import comment_url, comments_url, posted, project_with_people

Sessions = async_sessionmaker[AsyncSession]


async def _post_many(
    client: AsyncClient, headers: dict[str, str], task_id: int, count: int
) -> list[int]:
    return [(await posted(client, headers, task_id, f"comment {i}"))["id"] for i in range(count)]


@pytest.mark.parametrize("reader", ["owner", "editor", "viewer", "admin"])
async def test_everyone_who_sees_the_task_lists_its_comments_oldest_first(
    reader: str, client: AsyncClient, make: DomainFactory
) -> None:
    project, task, people = await project_with_people(make)
    other_task = await make.task(project)
    ids = await _post_many(client, make.headers(people["editor"]), task.id, 3)
    await posted(client, make.headers(people["owner"]), other_task.id, "elsewhere")

    response = await client.get(comments_url(task.id), headers=make.headers(people[reader]))

    assert response.status_code == 200, response.text
    assert [comment["id"] for comment in response.json()] == ids
    assert [comment["body"] for comment in response.json()] == [f"comment {i}" for i in range(3)]
    assert response.headers["X-Total-Count"] == "3"
    assert "Link" not in response.headers


async def test_a_task_without_comments_lists_none(client: AsyncClient, make: DomainFactory) -> None:
    _, task, people = await project_with_people(make)

    response = await client.get(comments_url(task.id), headers=make.headers(people["viewer"]))

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"


async def test_following_next_links_walks_every_comment_once_in_order(
    client: AsyncClient, make: DomainFactory
) -> None:
    _, task, people = await project_with_people(make)
    headers = make.headers(people["owner"])
    ids = await _post_many(client, headers, task.id, 7)

    seen: list[int] = []
    url: str | None = f"{comments_url(task.id)}?limit=3"
    pages = 0
    while url is not None:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["X-Total-Count"] == "7"
        seen += [comment["id"] for comment in response.json()]
        url = links(response).get("next")
        pages += 1

    assert seen == ids
    assert pages == 3


async def test_a_comment_posted_while_paging_comes_on_a_later_page_once(
    client: AsyncClient, make: DomainFactory
) -> None:
    _, task, people = await project_with_people(make)
    headers = make.headers(people["owner"])
    ids = await _post_many(client, headers, task.id, 4)
    first = await client.get(comments_url(task.id), params={"limit": 2}, headers=headers)
    newer = await posted(client, headers, task.id, "newer")

    second = await client.get(links(first)["next"], headers=headers)
    third = await client.get(links(second)["next"], headers=headers)

    assert [c["id"] for c in second.json()] == ids[2:]
    assert [c["id"] for c in third.json()] == [newer["id"]]
    assert "next" not in links(third)


async def test_skip_and_limit_page_by_offset(client: AsyncClient, make: DomainFactory) -> None:
    _, task, people = await project_with_people(make)
    headers = make.headers(people["owner"])
    ids = await _post_many(client, headers, task.id, 5)

    response = await client.get(
        comments_url(task.id), params={"skip": 1, "limit": 2}, headers=headers
    )

    assert [c["id"] for c in response.json()] == ids[1:3]
    assert set(links(response)) == {"next", "prev"}


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"cursor": "not-a-cursor"}, ["query", "cursor"]),
        ({"cursor": "WyJ0aXRsZSIsImEiLDFd"}, ["query", "cursor"]),  # ["title","a",1]
        ({"cursor": "WyJjcmVhdGVkX2F0IixudWxsLDFd"}, ["query", "cursor"]),  # empty value
        ({"cursor": "WyJjcmVhdGVkX2F0IiwieCIsMV0"}, ["query", "cursor"]),  # not a time
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 101}, ["query", "limit"]),
        ({"skip": -1}, ["query", "skip"]),
    ],
)
async def test_bad_paging_parameters_are_422(
    params: dict[str, object], loc: list[str], client: AsyncClient, make: DomainFactory
) -> None:
    _, task, people = await project_with_people(make)

    response = await client.get(
        comments_url(task.id), params=params, headers=make.headers(people["owner"])
    )

    assert loc in error_locs(response)


async def test_a_cursor_with_skip_is_422(client: AsyncClient, make: DomainFactory) -> None:
    _, task, people = await project_with_people(make)
    headers = make.headers(people["owner"])
    await _post_many(client, headers, task.id, 3)
    first = await client.get(comments_url(task.id), params={"limit": 1}, headers=headers)
    cursor = dict(links(first))["next"].split("cursor=")[1].split("&")[0]

    response = await client.get(
        comments_url(task.id), params={"cursor": cursor, "skip": 1}, headers=headers
    )

    assert ["query", "cursor"] in error_locs(response)


async def test_another_tasks_cursor_lists_only_this_tasks_comments(
    client: AsyncClient, make: DomainFactory
) -> None:
    project, task, people = await project_with_people(make)
    headers = make.headers(people["owner"])
    other = await make.task(project)
    await _post_many(client, headers, other.id, 3)
    mine = await _post_many(client, headers, task.id, 2)
    first = await client.get(comments_url(other.id), params={"limit": 1}, headers=headers)
    cursor = links(first)["next"].split("cursor=")[1].split("&")[0]

    response = await client.get(comments_url(task.id), params={"cursor": cursor}, headers=headers)

    assert [c["id"] for c in response.json()] == mine


async def test_a_deleted_accounts_comments_stay_without_an_author(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)
    editor = people["editor"]
    comment = await posted(client, make.headers(editor), task.id, "mine")
    async with sessionmaker() as session:
        await session.execute(delete(User).where(User.id == editor.id))
        await session.commit()
    headers = make.headers(people["owner"])

    listed = await client.get(comments_url(task.id), headers=headers)
    read = await client.get(comment_url(comment["id"]), headers=headers)
    task_read = await client.get(f"/api/v1/tasks/{task.id}", headers=headers)

    assert [(c["id"], c["author"]) for c in listed.json()] == [(comment["id"], None)]
    assert read.json()["author"] is None
    assert task_read.json()["comment_count"] == 1


async def test_a_comment_of_a_deleted_task_is_gone(
    client: AsyncClient, make: DomainFactory
) -> None:
    _, task, people = await project_with_people(make)
    headers = make.headers(people["owner"])
    comment = await posted(client, headers, task.id)

    deleted = await client.delete(f"/api/v1/tasks/{task.id}", headers=headers)

    assert deleted.status_code == 204, deleted.text
    assert_error(await client.get(comment_url(comment["id"]), headers=headers), 404, "not_found")


async def test_a_moved_tasks_comments_follow_it_and_its_new_readers_see_them(
    client: AsyncClient, make: DomainFactory
) -> None:
    _, task, people = await project_with_people(make)
    owner = people["owner"]
    comment = await posted(client, make.headers(owner), task.id)
    target = await make.project(owner)
    newcomer = await make()
    await make.member(target, newcomer, "viewer")

    moved = await client.post(
        f"/api/v1/tasks/{task.id}/move", json={"project_id": target.id}, headers=make.headers(owner)
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["comment_count"] == 1
    seen = await client.get(comment_url(comment["id"]), headers=make.headers(newcomer))
    assert seen.status_code == 200
    left = await client.get(comments_url(task.id), headers=make.headers(people["viewer"]))
    assert_error(left, 404, "not_found")


async def test_a_page_of_20_comments_takes_as_many_queries_as_a_page_of_2(
    client: AsyncClient, make: DomainFactory, app: FastAPI
) -> None:
    _, task, people = await project_with_people(make)
    headers = make.headers(people["owner"])
    authors = [make.headers(people[name]) for name in ("owner", "editor", "admin")]
    await _post_many(client, headers, task.id, 2)
    url = comments_url(task.id)
    await client.get(url, headers=headers)  # warm up: connection set-up is not counted

    with sql.statements(app) as few:
        small = await client.get(url, params={"limit": 20}, headers=headers)
    for i in range(18):
        await posted(client, authors[i % 3], task.id, f"more {i}")
    with sql.statements(app) as many:
        large = await client.get(url, params={"limit": 20}, headers=headers)

    assert (len(small.json()), len(large.json())) == (2, 20)
    # The caller, the task with its visibility, the page.
    assert len(few) == len(many) <= 3, (few, many)
