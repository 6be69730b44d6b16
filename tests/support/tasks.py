"""What the task API tests share: routes, the stored tasks and listing them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.projects.models import Project
from taskflow.tasks.models import Task
from taskflow.users.models import User
from tests.factories import DomainFactory
from tests.support.api import error_locs

TASKS = "/api/v1/tasks"
TASK_FIELDS = {
    "id",
    "title",
    "description",
    "priority",
    "is_completed",
    "completed_at",
    "due_date",
    "project",
    "assignee",
    "created_by",
    "comment_count",
    "created_at",
    "updated_at",
    "parent_id",
    "subtask_counts",
    "labels",
    "status",
    "position",
}


async def stored_task(sessionmaker: async_sessionmaker[AsyncSession], task_id: int) -> Task | None:
    async with sessionmaker() as session:
        return await session.get(Task, task_id)


async def count_tasks(sessionmaker: async_sessionmaker[AsyncSession], **where: Any) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).select_from(Task).filter_by(**where)
        return int(await session.scalar(query) or 0)


BULK = f"{TASKS}/bulk-update"


@dataclass(frozen=True)
class Snapshot:
    """What a change could touch, as stored."""

    project_id: int
    priority: int
    is_completed: bool
    completed_at: datetime | None
    due_date: datetime | None
    assignee_id: int | None
    version: int


async def snapshots(
    sessionmaker: async_sessionmaker[AsyncSession], task_ids: list[int]
) -> dict[int, Snapshot]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(Task).where(Task.id.in_(task_ids)))
        return {
            task.id: Snapshot(
                task.project_id,
                task.priority,
                task.is_completed,
                task.completed_at,
                task.due_date,
                task.assignee_id,
                task.version,
            )
            for task in rows
        }


async def bulk(
    client: AsyncClient, headers: dict[str, str], task_ids: list[int], **update_data: Any
) -> Response:
    return await client.post(
        BULK, json={"task_ids": task_ids, "update_data": update_data}, headers=headers
    )


async def listed(
    client: AsyncClient, user_headers: dict[str, str], **params: Any
) -> tuple[list[int], int]:
    """The ids a list call returns, in order, and its X-Total-Count."""
    response = await client.get(TASKS, params=params, headers=user_headers)
    assert response.status_code == 200, response.text
    return [task["id"] for task in response.json()], int(response.headers["X-Total-Count"])


def ids(*tasks: Task) -> list[int]:
    return [task.id for task in tasks]


def assert_422_at(response: Response, loc: list[Any]) -> None:
    assert loc in error_locs(response)


async def shared_project(make: DomainFactory) -> tuple[User, Project]:
    owner = await make()
    return owner, await make.project(owner)
