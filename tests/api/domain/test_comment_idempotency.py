"""Idempotency-Key on posting a comment: a retried post is answered again, not posted twice."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import error_locs
from tests.support.comments import comment_count, comments_url, project_with_people


async def test_a_retried_post_with_the_same_key_answers_the_first_comment_again(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, task, people = await project_with_people(make)
    headers = {**make.headers(people["editor"]), "Idempotency-Key": "comment-1"}

    first = await client.post(comments_url(task.id), json={"body": "once"}, headers=headers)
    again = await client.post(comments_url(task.id), json={"body": "once"}, headers=headers)
    other = await client.post(comments_url(task.id), json={"body": "twice"}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert error_locs(other)
    assert await comment_count(sessionmaker, task.id) == (1, 1)


async def test_reusing_a_key_on_another_task_is_422_and_posts_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    project, task, people = await project_with_people(make)
    other_task = await make.task(project)
    headers = {**make.headers(people["owner"]), "Idempotency-Key": "comment-2"}

    first = await client.post(comments_url(task.id), json={"body": "hi"}, headers=headers)
    second = await client.post(comments_url(other_task.id), json={"body": "hi"}, headers=headers)

    assert first.status_code == 201, first.text
    assert second.status_code == 422, second.text
    assert await comment_count(sessionmaker, other_task.id) == (0, 0)
