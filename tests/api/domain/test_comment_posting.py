"""Posting a comment on a task and reading it: who may, what is kept, what it answers,
and what it counts and records."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import api_key_headers, assert_error, error_locs, parse_time, user_summary
from tests.support.comments import (
    COMMENT_FIELDS,
    comment_count,
    comment_events,
    comment_url,
    comments_url,
    post_comment,
    posted,
    project_with_people,
    stored_comment,
)
from tests.support.projects import MISSING_ID, PROJECTS
from tests.support.tasks import TASKS, stored_task

Sessions = async_sessionmaker[AsyncSession]


@pytest.mark.parametrize("writer", ["owner", "editor", "admin"])
async def test_owner_editors_and_admins_post_a_comment_answered_201_with_location_and_etag(
    writer: str, client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)
    author = people[writer]

    response = await post_comment(client, make.headers(author), task.id, "Looks *good* to me")

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == COMMENT_FIELDS
    assert body["task_id"] == task.id
    assert body["author"] == user_summary(author)
    assert body["body"] == "Looks *good* to me"
    assert body["edited"] is False
    assert parse_time(body["created_at"]) == parse_time(body["updated_at"])
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"http://testserver{comment_url(body['id'])}"
    stored = await stored_comment(sessionmaker, body["id"])
    assert stored is not None
    assert (stored.task_id, stored.author_id, stored.version) == (task.id, author.id, 1)


async def test_the_location_answers_the_same_comment(
    client: AsyncClient, make: DomainFactory
) -> None:
    _, task, people = await project_with_people(make)
    headers = make.headers(people["editor"])
    created = await post_comment(client, headers, task.id)

    read = await client.get(created.headers["Location"], headers=headers)

    assert read.status_code == 200, read.text
    assert read.json() == created.json()
    assert read.headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    "text",
    [
        "  leading and trailing spaces  ",
        "# Title\n\n- one\n- two\n\n```python\nprint('x')\n```\n",
        "Ünïcödé ✓ 日本語",
        "x",
        "y" * 10_000,
    ],
)
async def test_the_body_is_kept_exactly_as_sent(
    text: str, client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)

    body = await posted(client, make.headers(people["owner"]), task.id, text)

    assert body["body"] == text
    stored = await stored_comment(sessionmaker, body["id"])
    assert stored is not None
    assert stored.body == text


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"body": ""}, ["body", "body"]),
        ({"body": " \n\t "}, ["body", "body"]),
        ({"body": "z" * 10_001}, ["body", "body"]),
        ({"body": "nul \x00 inside"}, ["body", "body"]),
        ({"body": 5}, ["body", "body"]),
        ({}, ["body", "body"]),
        ({"body": "ok", "author_id": 1}, ["body", "author_id"]),
    ],
)
async def test_a_bad_body_is_422_and_posts_nothing(
    payload: dict[str, Any],
    loc: list[str],
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: Sessions,
) -> None:
    _, task, people = await project_with_people(make)

    response = await client.post(
        comments_url(task.id), json=payload, headers=make.headers(people["owner"])
    )

    assert loc in error_locs(response)
    assert await comment_count(sessionmaker, task.id) == (0, 0)


async def test_a_task_id_out_of_range_is_422(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    headers = make.headers(owner)

    posted_to = await client.post(f"{TASKS}/0/comments", json={"body": "x"}, headers=headers)
    listed = await client.get(f"{TASKS}/0/comments", headers=headers)
    read = await client.get(comment_url(0), headers=headers)

    for response in (posted_to, listed, read):
        assert_error(response, 422, "validation_error")


async def test_a_viewer_may_not_post_403(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)

    response = await post_comment(client, make.headers(people["viewer"]), task.id)

    assert_error(response, 403, "forbidden")
    assert await comment_count(sessionmaker, task.id) == (0, 0)


@pytest.mark.parametrize("who", ["outsider", "former member"])
async def test_a_task_the_caller_cannot_see_is_404_on_post_list_and_read(
    who: str, client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    project, task, people = await project_with_people(make)
    comment = await posted(client, make.headers(people["owner"]), task.id)
    caller = people["outsider"]
    if who == "former member":
        caller = people["editor"]
        removed = await client.delete(
            f"{PROJECTS}/{project.id}/members/{caller.id}", headers=make.headers(people["owner"])
        )
        assert removed.status_code == 204, removed.text
    headers = make.headers(caller)

    assert_error(await post_comment(client, headers, task.id), 404, "not_found")
    assert_error(await client.get(comments_url(task.id), headers=headers), 404, "not_found")
    assert_error(await client.get(comment_url(comment["id"]), headers=headers), 404, "not_found")
    assert await comment_count(sessionmaker, task.id) == (1, 1)


async def test_a_missing_task_or_comment_is_404(client: AsyncClient, make: DomainFactory) -> None:
    headers = make.headers(await make.admin())

    assert_error(await post_comment(client, headers, MISSING_ID), 404, "not_found")
    assert_error(await client.get(comments_url(MISSING_ID), headers=headers), 404, "not_found")
    assert_error(await client.get(comment_url(MISSING_ID), headers=headers), 404, "not_found")


async def test_an_archived_projects_comments_are_read_only_409(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    project, task, people = await project_with_people(make)
    owner = make.headers(people["owner"])
    comment = await posted(client, owner, task.id)
    archived = await client.patch(
        f"{PROJECTS}/{project.id}", json={"is_archived": True}, headers=owner
    )
    assert archived.status_code == 200, archived.text

    for writer in ("owner", "editor", "admin"):
        response = await post_comment(client, make.headers(people[writer]), task.id)
        assert_error(response, 409, "project_archived")
    listed = await client.get(comments_url(task.id), headers=make.headers(people["viewer"]))
    assert [c["id"] for c in listed.json()] == [comment["id"]]
    assert await comment_count(sessionmaker, task.id) == (1, 1)


async def test_without_credentials_every_comment_route_is_401(
    client: AsyncClient, make: DomainFactory
) -> None:
    _, task, people = await project_with_people(make)
    comment = await posted(client, make.headers(people["owner"]), task.id)

    answers = [
        await client.get(comments_url(task.id)),
        await client.post(comments_url(task.id), json={"body": "x"}),
        await client.get(comment_url(comment["id"])),
        await client.patch(comment_url(comment["id"]), json={"body": "x"}),
        await client.delete(comment_url(comment["id"])),
    ]

    for response in answers:
        assert_error(response, 401, "not_authenticated")
    bad_token = {"Authorization": "Bearer nope"}
    assert_error(
        await client.get(comment_url(comment["id"]), headers=bad_token), 401, "invalid_token"
    )


async def test_api_keys_need_comments_read_to_read_and_comments_write_to_write(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)
    owner = make.headers(people["owner"])
    comment = await posted(client, owner, task.id)
    tasks_only = await api_key_headers(client, owner, "tasks:read", "tasks:write")
    reader = await api_key_headers(client, owner, "comments:read")
    writer = await api_key_headers(client, owner, "comments:write")
    url = comment_url(comment["id"])

    for refused in (
        await client.get(comments_url(task.id), headers=tasks_only),
        await client.get(url, headers=tasks_only),
        await post_comment(client, tasks_only, task.id),
        await post_comment(client, reader, task.id),
        await client.patch(url, json={"body": "by key"}, headers=reader),
        await client.delete(url, headers=reader),
        await client.get(url, headers=writer),
    ):
        assert_error(refused, 403, "insufficient_scope")
    assert (await client.get(comments_url(task.id), headers=reader)).status_code == 200
    assert (await client.get(url, headers=reader)).status_code == 200
    by_key = await post_comment(client, writer, task.id, "by key")
    assert by_key.status_code == 201, by_key.text
    assert by_key.json()["author"]["id"] == people["owner"].id
    assert await comment_count(sessionmaker, task.id) == (2, 2)


async def test_an_api_key_may_be_created_with_the_comment_scopes(
    client: AsyncClient, make: DomainFactory
) -> None:
    headers = make.headers(await make())

    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "bot", "scopes": ["comments:write", "comments:read"]},
        headers=headers,
    )
    unknown = await client.post(
        "/api/v1/api-keys", json={"name": "bot", "scopes": ["comments:admin"]}, headers=headers
    )

    assert created.status_code == 201, created.text
    assert created.json()["scopes"] == ["comments:read", "comments:write"]
    assert ["body", "scopes", 0] in error_locs(unknown)


async def test_posting_counts_the_comment_on_the_task_without_changing_its_version(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)
    headers = make.headers(people["editor"])
    before = await client.get(f"{TASKS}/{task.id}", headers=headers)
    assert before.json()["comment_count"] == 0

    for text in ("one", "two", "three"):
        await posted(client, headers, task.id, text)

    after = await client.get(f"{TASKS}/{task.id}", headers=headers)
    assert after.json()["comment_count"] == 3
    assert after.headers["ETag"] == before.headers["ETag"]
    assert after.json()["updated_at"] == before.json()["updated_at"]
    listed = await client.get(TASKS, params={"project_id": task.project_id}, headers=headers)
    assert [t["comment_count"] for t in listed.json()] == [3]
    assert await comment_count(sessionmaker, task.id) == (3, 3)
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert stored.version == 1


async def test_a_new_task_answers_a_comment_count_of_zero(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)

    created = await client.post(
        TASKS, json={"title": "fresh", "project_id": project.id}, headers=make.headers(owner)
    )

    assert created.status_code == 201, created.text
    assert created.json()["comment_count"] == 0


async def test_posting_records_a_comment_created_event(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)
    editor = people["editor"]

    comment = await posted(client, make.headers(editor), task.id, "hello")

    assert await comment_events(sessionmaker, task.id) == [
        ("comment.created", editor.id, {"id": [None, comment["id"]], "body": [None, "hello"]})
    ]


async def test_a_refused_post_records_no_event(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)

    assert_error(
        await post_comment(client, make.headers(people["viewer"]), task.id), 403, "forbidden"
    )

    assert await comment_events(sessionmaker, task.id) == []
