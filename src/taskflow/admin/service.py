from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.core import clock
from taskflow.projects.models import Project
from taskflow.tasks.models import Task
from taskflow.users.models import Role, User


async def stats(*, session: AsyncSession) -> dict[str, Any]:
    """Service-wide counts, in three aggregate queries."""
    roles = await session.execute(select(User.role, func.count()).group_by(User.role))
    by_role: dict[str, int] = dict(roles.all())
    active = await session.scalar(
        select(func.count()).select_from(User).where(User.is_active.is_(True))
    )
    projects = await session.scalar(select(func.count()).select_from(Project))
    tasks, overdue = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Task.is_completed.is_(False), Task.due_date < clock.now()),
            ).select_from(Task)
        )
    ).one()
    return {
        "users_total": sum(by_role.values()),
        "users_active": active or 0,
        "users_by_role": {role.value: by_role.get(role.value, 0) for role in Role},
        "projects_total": projects or 0,
        "tasks_total": tasks,
        "tasks_overdue": overdue,
    }
