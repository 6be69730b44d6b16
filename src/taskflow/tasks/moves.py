"""Moving a task: on its project's board (another status, right before or after a task of
it), or to another project with its subtasks (see subtasks), its labels mapped by name (see
labels.service.carry_labels) and each task in the target's status of the same category."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from taskflow.activity import service as activity
from taskflow.core import clock
from taskflow.core.cache import touch
from taskflow.core.db import RowLock
from taskflow.identity.principal import Principal
from taskflow.labels import service as labels_service
from taskflow.projects import service as projects_service
from taskflow.projects.policy import ensure_can_write_tasks
from taskflow.statuses.models import Status
from taskflow.tasks import ordering, queries, subtasks
from taskflow.tasks.models import Task
from taskflow.tasks.queries import PROJECT_ID

# The write steps a change and a move share.
from taskflow.tasks.service import TaskAccess, _view_after, _write_if_unchanged
from taskflow.tasks.views import PersonRef, TaskView

# The categories of the subtasks of a moved task, in their board order.
_CATEGORIES = (
    select(Task.id, Status.category)
    .join(Status, Status.id == Task.status_id)
    .where(Task.id.in_(bindparam("ids", expanding=True)))
    .order_by(Status.position, Task.position, Task.id)
)


async def move_task(
    *,
    session: AsyncSession,
    principal: Principal,
    access: TaskAccess,
    project_id: int | None = None,
    status_id: int | None = None,
    before_id: int | None = None,
    after_id: int | None = None,
) -> TaskView:
    """Move the task `access` read (locked): to another project, where the caller must be
    an editor too, with its subtasks at every level (an assignee who is not the owner or a
    member there is cleared; each moved task carries the target's labels named as the ones
    it carried; a subtask moved alone becomes a top-level task there); to a status of its
    (new) project, and right before or after a task of that status (else to its end). Its
    completion follows the status. Returns the task's view."""
    access.ensure_may_write()
    task = access.task
    source_id = task["project"]["id"]
    target_id = source_id if project_id is None else project_id
    if target_id == source_id and status_id is None and before_id is after_id is None:
        return task
    now = clock.now()
    values: dict[str, Any] = {"updated_at": now}
    shown: dict[str, Any] = {}
    below: list[int] = []
    connection = await session.connection()
    if target_id != source_id:
        below = await subtasks.lock_subtree(session, task["id"], source_id)
        # Locked until the move commits: not deleted, nor its members changed, meanwhile.
        target = await projects_service.get_access(
            session=session, principal=principal, project_id=target_id, lock=RowLock.SHARE
        )
        ensure_can_write_tasks(target)
        values["project_id"] = target_id
        shown["project_name"] = target.project.name
        if task["parent_id"] is not None:
            values["parent_id"] = None
        if not await _assignee_stays(connection, task["assignee"], target_id):
            values["assignee_id"] = None
    status = await _status_to_move_to(connection, task, target_id, status_id)
    place = await ordering.next_to(
        connection, status=status, moving_id=task["id"], before_id=before_id, after_id=after_id
    )
    values |= {"status_id": place.status_id, "position": place.position}
    values |= ordering.completion(place, was_completed=task["is_completed"])
    moved = _view_after(access, {**values, **shown, **place.columns()})
    await _write_if_unchanged(session, connection, principal, access, values, moved)
    touch(session, projects=sorted({source_id, target_id}))
    if target_id == source_id:
        return moved
    await _place_subtasks(connection, below, target_id)
    await subtasks.move_subtasks(connection, subtask_ids=below, project_id=target_id, now=now)
    await labels_service.carry_labels(
        connection, task_ids=[task["id"], *below], project_id=target_id
    )
    # Each subtask moved with it is a move of its own in the target's history.
    await activity.record_many(
        session,
        (
            activity.event_row(
                type="task.moved",
                actor_id=principal.user.id,
                project_id=target_id,
                task_id=subtask_id,
                changes={"project_id": [source_id, target_id]},
            )
            for subtask_id in below
        ),
    )
    moved["labels"] = await labels_service.labels_of_task(connection, task["id"])  # type: ignore[typeddict-item]
    return moved


async def _status_to_move_to(
    connection: AsyncConnection, task: TaskView, project_id: int, status_id: int | None
) -> ordering.Placement:
    """The end of the status a move sends the task to: `status_id` (422 unless a status of
    the project); else its own; else, in another project, the first of the same category,
    or the first not done."""
    if status_id is None and project_id == task["project"]["id"]:
        status_id = task["status"]["id"]
    if status_id is not None:
        place = await ordering.at_end(connection, project_id=project_id, status_id=status_id)
    else:
        kind = ordering.same_category(task["status"]["category"])
        place = await ordering.at_end(connection, project_id=project_id, kind=kind)
    if place is None:  # a given status of another project (every project has each kind)
        raise ordering.status_refused("body", "status_id")
    return place


async def _place_subtasks(
    connection: AsyncConnection, subtask_ids: Sequence[int], project_id: int
) -> None:
    """Send the subtasks of a task moving to the project to the end of its first status of
    their category (or its first not done), in their board order, in three statements
    whatever their number. Their completion stays: a done status maps to a done one."""
    if not subtask_ids:
        return
    rows = (await connection.execute(_CATEGORIES, {"ids": list(subtask_ids)})).all()
    statuses = (await ordering.statuses_of(connection, [project_id]))[project_id]
    target = {
        category: ordering.same_category(category).first_id(statuses)
        for category in {row.category for row in rows}
    }
    await ordering.place_at_end(connection, [(row.id, target[row.category]) for row in rows])


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
