"""The labels tasks carry, added to their views: one statement for all tasks of an answer."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from taskflow.labels import service as labels_service
from taskflow.tasks.views import TaskView


async def with_labels(connection: AsyncConnection, tasks: list[TaskView]) -> list[TaskView]:
    """The tasks, each with the labels it carries: one statement for all of them."""
    carried = await labels_service.labels_of_tasks(connection, [task["id"] for task in tasks])
    for task in tasks:
        task["labels"] = carried.get(task["id"], [])  # type: ignore[typeddict-item]
    return tasks
