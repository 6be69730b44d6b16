"""What the project member API tests share: routes, listing members and their stored roles."""

from __future__ import annotations

from datetime import UTC, datetime

from httpx import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.projects.models import Project, ProjectMember
from tests.support.projects import PROJECTS

MEMBER_FIELDS = {"user", "role", "added_at"}
T0 = datetime(2030, 5, 1, 8, 0, tzinfo=UTC)


def members_url(project: Project, user_id: int | None = None) -> str:
    url = f"{PROJECTS}/{project.id}/members"
    return url if user_id is None else f"{url}/{user_id}"


def listed(response: Response) -> list[tuple[int, str]]:
    assert response.status_code == 200, response.text
    return [(member["user"]["id"], member["role"]) for member in response.json()]


async def stored_roles(
    sessionmaker: async_sessionmaker[AsyncSession], project: Project
) -> dict[int, str]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(ProjectMember.user_id, ProjectMember.role).where(
                ProjectMember.project_id == project.id
            )
        )
        return dict(rows.all())
