"""Concurrent posts and deletes in one app, on both databases: the task's comment_count
stays equal to its comments (tests/race does the same against a served PostgreSQL)."""

from __future__ import annotations

import asyncio

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.comments import comment_count, comment_url, post_comment, project_with_people

N = 12


async def test_concurrent_posts_and_deletes_keep_the_count_equal_to_the_rows(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, task, people = await project_with_people(make)
    headers = [make.headers(people["owner"]), make.headers(people["editor"])]

    created = await asyncio.gather(
        *(post_comment(client, headers[i % 2], task.id, f"c {i}") for i in range(N))
    )
    assert [response.status_code for response in created] == [201] * N
    assert await comment_count(sessionmaker, task.id) == (N, N)

    owner = headers[0]
    deleted = await asyncio.gather(
        *(client.delete(comment_url(r.json()["id"]), headers=owner) for r in created[: N // 2]),
        *(post_comment(client, owner, task.id, "more") for _ in range(N // 2)),
    )

    assert sorted(response.status_code for response in deleted) == [201] * (N // 2) + [204] * (
        N // 2
    )
    assert await comment_count(sessionmaker, task.id) == (N, N)
