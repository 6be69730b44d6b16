"""What the label and subtask API tests share: routes, making labels, stored rows."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.activity.models import ActivityEvent
from taskflow.labels.models import TaskLabel
from taskflow.projects.models import Project
from taskflow.tasks.models import Task
from tests.support.projects import PROJECTS
from tests.support.tasks import TASKS

LABEL_FIELDS = {"id", "project_id", "name", "color"}


def labels_url(project: Project | int, label_id: int | None = None) -> str:
    project_id = project if isinstance(project, int) else project.id
    url = f"{PROJECTS}/{project_id}/labels"
    return url if label_id is None else f"{url}/{label_id}"


async def new_label(
    client: AsyncClient,
    headers: dict[str, str],
    project: Project,
    name: str,
    color: str = "#112233",
) -> dict[str, Any]:
    """A label created through the API; returns its body."""
    response = await client.post(
        labels_url(project), json={"name": name, "color": color}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def label_names(response: Response) -> list[str]:
    """The names of the labels of a task answer."""
    assert response.status_code in (200, 201), response.text
    return [label["name"] for label in response.json()["labels"]]


async def create_task(
    client: AsyncClient, headers: dict[str, str], project: Project, **fields: Any
) -> Response:
    body = {"title": fields.pop("title", "a task"), "project_id": project.id, **fields}
    return await client.post(TASKS, json=body, headers=headers)


async def new_task(
    client: AsyncClient, headers: dict[str, str], project: Project, **fields: Any
) -> dict[str, Any]:
    response = await create_task(client, headers, project, **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def patch_task(
    client: AsyncClient, headers: dict[str, str], task_id: int, **fields: Any
) -> Response:
    return await client.patch(f"{TASKS}/{task_id}", json=fields, headers=headers)


async def events(
    sessionmaker: async_sessionmaker[AsyncSession], project_id: int, prefix: str
) -> list[ActivityEvent]:
    """The project's events whose type starts with `prefix`, oldest first."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(ActivityEvent)
            .where(ActivityEvent.project_id == project_id, ActivityEvent.type.startswith(prefix))
            .order_by(ActivityEvent.id)
        )
        return list(rows)


async def stored_label_ids(
    sessionmaker: async_sessionmaker[AsyncSession], task_id: int
) -> set[int]:
    async with sessionmaker() as session:
        query = select(TaskLabel.label_id).where(TaskLabel.task_id == task_id)
        return set(await session.scalars(query))


async def stored_tasks(
    sessionmaker: async_sessionmaker[AsyncSession], *task_ids: int
) -> dict[int, Task]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(Task).where(Task.id.in_(task_ids)))
        return {task.id: task for task in rows}
