"""What the project API tests share: routes, fields and the stored projects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from httpx import Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.projects.models import Project

PROJECTS = "/api/v1/projects"
PROJECT_FIELDS = {
    "id",
    "name",
    "description",
    "is_archived",
    "owner",
    "my_role",
    "created_at",
    "updated_at",
}
MISSING_ID = 987_654_321
T0 = datetime(2030, 1, 15, 9, 0, tzinfo=UTC)


def without_request_id(response: Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    body.pop("request_id")
    return body


def ids(response: Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [project["id"] for project in response.json()]


async def stored_project(
    sessionmaker: async_sessionmaker[AsyncSession], project_id: int
) -> Project | None:
    async with sessionmaker() as session:
        return await session.get(Project, project_id)
