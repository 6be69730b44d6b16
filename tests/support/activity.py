"""What the activity tests share: reading a history through the API and the stored events."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.activity.models import ActivityEvent

API = "/api/v1"


def project_activity_url(project_id: int) -> str:
    return f"{API}/projects/{project_id}/activity"


def task_activity_url(task_id: int) -> str:
    return f"{API}/tasks/{task_id}/activity"


async def history(
    client: AsyncClient,
    headers: dict[str, str],
    *,
    project_id: int | None = None,
    task_id: int | None = None,
    **params: Any,
) -> list[dict[str, Any]]:
    """The events a history answers (200 expected), newest first."""
    url = project_activity_url(project_id) if project_id else task_activity_url(task_id or 0)
    response = await client.get(url, headers=headers, params=params)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


async def stored_events(
    sessionmaker: async_sessionmaker[AsyncSession], **where: Any
) -> list[ActivityEvent]:
    """The stored events with these column values, in id order."""
    conditions = [getattr(ActivityEvent, name) == value for name, value in where.items()]
    async with sessionmaker() as session:
        found = await session.scalars(
            select(ActivityEvent).where(*conditions).order_by(ActivityEvent.id)
        )
        return list(found)


def request_id(response: Response) -> str:
    return response.headers["X-Request-ID"]
