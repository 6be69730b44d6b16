"""What the comment API tests share: routes, posting, the stored comments and events."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.activity.models import ActivityEvent
from taskflow.comments.models import Comment
from taskflow.projects.models import Project
from taskflow.tasks.models import Task
from taskflow.users.models import User
from tests.factories import DomainFactory

API = "/api/v1"
COMMENT_FIELDS = {"id", "task_id", "author", "body", "created_at", "updated_at", "edited"}
Sessions = async_sessionmaker[AsyncSession]


def comments_url(task_id: int) -> str:
    return f"{API}/tasks/{task_id}/comments"


def comment_url(comment_id: int) -> str:
    return f"{API}/comments/{comment_id}"


async def post_comment(
    client: AsyncClient, headers: dict[str, str], task_id: int, body: str = "A comment"
) -> Response:
    return await client.post(comments_url(task_id), json={"body": body}, headers=headers)


async def posted(
    client: AsyncClient, headers: dict[str, str], task_id: int, body: str = "A comment"
) -> dict[str, Any]:
    """The body of a comment posted successfully."""
    response = await post_comment(client, headers, task_id, body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def comment_count(sessionmaker: Sessions, task_id: int) -> tuple[int, int]:
    """The task's stored comment_count, and how many comment rows it has."""
    async with sessionmaker() as session:
        task = await session.get(Task, task_id)
        assert task is not None
        rows = await session.scalar(
            select(func.count()).select_from(Comment).where(Comment.task_id == task_id)
        )
        return task.comment_count, int(rows or 0)


async def stored_comment(sessionmaker: Sessions, comment_id: int) -> Comment | None:
    async with sessionmaker() as session:
        return await session.get(Comment, comment_id)


async def comment_events(sessionmaker: Sessions, task_id: int) -> list[tuple[str, int | None, Any]]:
    """(type, actor, changes) of the task's comment events, oldest first."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(ActivityEvent.type, ActivityEvent.actor_id, ActivityEvent.changes)
            .where(ActivityEvent.task_id == task_id, ActivityEvent.type.like("comment.%"))
            .order_by(ActivityEvent.id)
        )
        return [tuple(row) for row in rows]


async def project_with_people(
    make: DomainFactory, **project_fields: Any
) -> tuple[Project, Task, dict[str, User]]:
    """A project with a task, and its people: owner, editor, viewer, an administrator who
    is not in it and an outsider."""
    owner = await make()
    project = await make.project(owner, **project_fields)
    editor, viewer, outsider, admin = await make(), await make(), await make(), await make.admin()
    await make.member(project, editor, "editor")
    await make.member(project, viewer, "viewer")
    task = await make.task(project)
    people = {
        "owner": owner,
        "editor": editor,
        "viewer": viewer,
        "outsider": outsider,
        "admin": admin,
    }
    return project, task, people
