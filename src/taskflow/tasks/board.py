"""The board of a project: its statuses in order, each with its first tasks in board order
and how many it holds, in a fixed number of statements whatever the number of tasks:
the project (its visibility), the statuses with their totals, the tasks."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.core.db import BigIntId
from taskflow.identity.principal import Principal
from taskflow.projects import service as projects_service
from taskflow.statuses.models import Status
from taskflow.tasks.models import Task
from taskflow.tasks.queries import PROJECT_ID, visible_tasks, with_view_columns
from taskflow.tasks.views import TaskView, task_view

DEFAULT_BOARD_LIMIT, MAX_BOARD_LIMIT = 50, 200
_PROJECT = bindparam(PROJECT_ID, type_=BigIntId)

# The project's statuses in order, each with the number of its tasks.
_STATUSES_WITH_TOTALS = (
    select(Status, func.count(Task.id).label("total"))
    .outerjoin(Task, Task.status_id == Status.id)
    .where(Status.project_id == _PROJECT)
    .group_by(Status.id)
    .order_by(Status.position, Status.id)
)


@functools.cache
def _first_tasks(*, admin: bool) -> Select[Any]:
    """The view's columns of the first `per_status` visible tasks of each status of the
    project, in board order: numbered within their status by a window function."""
    ranked = (
        visible_tasks(admin=admin)
        .with_only_columns(
            Task.id,
            func.row_number()
            .over(partition_by=Task.status_id, order_by=(Task.position, Task.id))
            .label("place"),
        )
        .where(Task.project_id == _PROJECT)
        .subquery("ranked")
    )
    return (
        with_view_columns(select(Task.id).select_from(Task))
        .join(ranked, ranked.c.id == Task.id)
        .where(ranked.c.place <= bindparam("per_status", type_=BigIntId))
        .order_by(Status.position, Status.id, Task.position, Task.id)
    )


@dataclass(frozen=True, slots=True)
class BoardColumn:
    status: Status
    total: int
    tasks: list[TaskView]


async def read_board(
    *, session: AsyncSession, principal: Principal, project_id: int, limit: int
) -> list[BoardColumn]:
    """The board of a project the caller sees (404 otherwise)."""
    await projects_service.get_access(session=session, principal=principal, project_id=project_id)
    rows = (await session.execute(_STATUSES_WITH_TOTALS, {PROJECT_ID: project_id})).all()
    columns = {status.id: BoardColumn(status, total, []) for status, total in rows}
    parameters = {
        **projects_service.viewer(principal),
        PROJECT_ID: project_id,
        "per_status": limit,
    }
    connection = await session.connection()
    for row in await connection.execute(_first_tasks(admin=principal.is_admin), parameters):
        task = task_view(row)
        columns[task["status"]["id"]].tasks.append(task)
    return list(columns.values())
