"""Moving a task to another project, with its subtasks (see subtasks) and its labels
mapped by name (see labels.service.carry_labels)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from taskflow.activity import service as activity
from taskflow.core import clock
from taskflow.core.cache import touch
from taskflow.core.db import RowLock
from taskflow.identity.principal import Principal
from taskflow.labels import service as labels_service
from taskflow.projects import service as projects_service
from taskflow.projects.policy import ensure_can_write_tasks
from taskflow.tasks import queries, subtasks
from taskflow.tasks.labelled import with_labels
from taskflow.tasks.queries import PROJECT_ID

# The write steps a change and a move share.
from taskflow.tasks.service import TaskAccess, _view_after, _write_if_unchanged
from taskflow.tasks.views import PersonRef, TaskView


async def move_task(
    *, session: AsyncSession, principal: Principal, access: TaskAccess, project_id: int
) -> TaskView:
    """Move the task `access` read (locked) to another project, where the caller must be an
    editor too, with its subtasks at every level; an assignee who is not the owner or a
    member of that project is cleared, and each moved task carries the target's labels
    named as the ones it carried. A subtask moved alone becomes a top-level task there.
    Returns the task's view."""
    access.ensure_may_write()
    task = access.task
    if project_id == task["project"]["id"]:
        return task
    below = await subtasks.lock_subtree(session, task["id"], task["project"]["id"])
    # Locked until the move commits: not deleted, nor its members changed, meanwhile.
    target = await projects_service.get_access(
        session=session, principal=principal, project_id=project_id, lock=RowLock.SHARE
    )
    ensure_can_write_tasks(target)
    now = clock.now()
    values: dict[str, Any] = {"project_id": project_id, "updated_at": now}
    if task["parent_id"] is not None:
        values["parent_id"] = None
    connection = await session.connection()
    if not await _assignee_stays(connection, task["assignee"], project_id):
        values["assignee_id"] = None
    moved = _view_after(access, {**values, "project_name": target.project.name})
    await _write_if_unchanged(session, connection, principal, access, values, moved)
    await subtasks.move_subtasks(connection, subtask_ids=below, project_id=project_id, now=now)
    # Each subtask moved with it is a move of its own in the target's history.
    await activity.record_many(
        session,
        (
            activity.event_row(
                type="task.moved",
                actor_id=principal.user.id,
                project_id=project_id,
                task_id=subtask_id,
                changes={"project_id": [task["project"]["id"], project_id]},
            )
            for subtask_id in below
        ),
    )
    await labels_service.carry_labels(
        connection, task_ids=[task["id"], *below], project_id=project_id
    )
    touch(session, projects=[task["project"]["id"], project_id])
    return (await with_labels(connection, [moved]))[0]


async def _assignee_stays(
    connection: AsyncConnection, assignee: PersonRef | None, project_id: int
) -> bool:
    """Whether a moved task keeps its assignee in the project it moves to: when there is
    none, or the assignee owns the project or is one of its members. Being active is not
    asked: a move keeps an assignment rather than making one, as deactivating a user keeps
    its assignments (see projects.queries.assignable for a new one)."""
    if assignee is None:
        return True
    parameters = {PROJECT_ID: project_id, "assignee_id": assignee["id"]}
    return bool(await connection.scalar(queries.ASSIGNEE_BELONGS, parameters))
