"""What the status and board tests share: routes, the stored statuses and events."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.activity.models import ActivityEvent
from taskflow.projects.models import Project
from taskflow.statuses.models import Status
from taskflow.tasks.models import Task

PROJECTS = "/api/v1/projects"


def statuses_url(project_id: int) -> str:
    return f"{PROJECTS}/{project_id}/statuses"


def board_url(project_id: int) -> str:
    return f"{PROJECTS}/{project_id}/board"


async def stored_statuses(
    sessionmaker: async_sessionmaker[AsyncSession], project_id: int
) -> list[Status]:
    """The project's statuses in board order, as stored."""
    async with sessionmaker() as session:
        query = (
            select(Status)
            .where(Status.project_id == project_id)
            .order_by(Status.position, Status.id)
        )
        return list(await session.scalars(query))


async def status_named(
    sessionmaker: async_sessionmaker[AsyncSession], project: Project, name: str
) -> Status:
    return next(s for s in await stored_statuses(sessionmaker, project.id) if s.name == name)


async def stored_tasks(sessionmaker: async_sessionmaker[AsyncSession], *ids: int) -> list[Task]:
    async with sessionmaker() as session:
        found = {t.id: t for t in await session.scalars(select(Task).where(Task.id.in_(ids)))}
        return [found[i] for i in ids]


async def events(
    sessionmaker: async_sessionmaker[AsyncSession], project_id: int, prefix: str
) -> list[ActivityEvent]:
    async with sessionmaker() as session:
        query = (
            select(ActivityEvent)
            .where(ActivityEvent.project_id == project_id, ActivityEvent.type.startswith(prefix))
            .order_by(ActivityEvent.id)
        )
        return list(await session.scalars(query))


async def board_order(client: AsyncClient, project_id: int, headers: dict[str, str]) -> list[int]:
    """The task ids of the project in board order (GET /tasks?sort=position)."""
    response = await client.get(
        "/api/v1/tasks",
        params={"project_id": project_id, "sort": "position", "limit": 100},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return [task["id"] for task in response.json()]


def names(statuses: Any) -> list[str]:
    """The names of statuses, stored (objects) or answered (JSON)."""
    return [s["name"] if isinstance(s, dict) else s.name for s in statuses]
