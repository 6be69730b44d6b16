"""Bulk change: many tasks in one transaction, all or nothing, in a fixed number of
statements whatever the number of tasks."""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.activity import service as activity
from taskflow.core import clock
from taskflow.core.cache import touch
from taskflow.core.db import BigIntId, RowLock, locked
from taskflow.core.errors import Forbidden, NotFound, UnprocessableEntity
from taskflow.identity.principal import Principal
from taskflow.labels import service as labels_service
from taskflow.projects import service as projects_service
from taskflow.projects.models import Project
from taskflow.projects.policy import ProjectArchived, ProjectRole, may_write_tasks
from taskflow.projects.queries import assignable
from taskflow.statuses.models import Status, StatusCategory
from taskflow.tasks import ordering
from taskflow.tasks.models import Task
from taskflow.tasks.queries import TASK_VIEWS_BY_IDS, visible_tasks, with_view_columns
from taskflow.tasks.views import task_view

_IDS: Any = bindparam("ids", expanding=True)

# Before a bulk update reads its tasks (PostgreSQL): the tasks locked against other writes,
# in id order, so two bulk updates cannot deadlock. Their projects are not locked: a project
# delete or a member removal holds the project and then waits for its tasks, so a bulk
# update holding tasks and waiting for the project would deadlock with it.
_LOCK_IN_ORDER = locked(
    select(Task.id).where(Task.id.in_(_IDS)).order_by(Task.id), Task, RowLock.NO_KEY_UPDATE
)


@functools.cache
def _visible_tasks_to_change(*, admin: bool) -> Select[*tuple[Any, ...]]:
    """The view's columns of the visible tasks among `ids` (what their activity events start
    from, and where they stand on the board), then the caller's role and whether the
    project is archived."""
    role = visible_tasks(admin=admin).selected_columns.role
    return with_view_columns(visible_tasks(admin=admin).where(Task.id.in_(_IDS))).add_columns(
        role, Project.is_archived
    )


# The projects among `project_ids` where the user `assignee_id` may be assigned a task.
_PROJECTS_ASSIGNABLE = select(Project.id).where(
    Project.id.in_(bindparam("project_ids", expanding=True)),
    assignable(Project.id, bindparam("assignee_id", type_=BigIntId)),
)


_STATUS = select(Status.project_id, Status.category).where(
    Status.id == bindparam("status_id", type_=BigIntId)
)


def _ids(ids: Collection[int]) -> str:
    return ", ".join(str(task_id) for task_id in sorted(ids))


async def bulk_update(
    *,
    session: AsyncSession,
    principal: Principal,
    task_ids: Sequence[int],
    changes: Mapping[str, Any],
) -> int:
    """Change many tasks in one transaction, all or nothing: 404 when the caller cannot see
    one of them, 403 or 409 when it may not change one, 422 when the assignee may not be
    assigned in one of their projects. Returns how many distinct tasks changed.

    Each task whose view the change alters gets its activity event (`task.updated`,
    `task.completed` or `task.reopened`), from its view read before and after the write,
    all written by one statement."""
    ids = sorted(set(task_ids))
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK_IN_ORDER, {"ids": ids})
    statement = _visible_tasks_to_change(admin=principal.is_admin)
    parameters = {**projects_service.viewer(principal), "ids": ids}
    rows = (await session.execute(statement, parameters)).all()
    missing = set(ids) - {row.id for row in rows}
    if missing:
        raise NotFound(f"Tasks not found: {_ids(missing)}")
    read_only = {row.id for row in rows if not may_write_tasks(ProjectRole(row.role))}
    if read_only:
        raise Forbidden(f"Viewers cannot change tasks: {_ids(read_only)}")
    archived = {row.id for row in rows if row.is_archived}
    if archived:
        raise ProjectArchived(f"Tasks in archived projects cannot change: {_ids(archived)}")

    await _check_labels(session, changes, {row.project_id for row in rows})
    values: dict[str, Any] = {"version": Task.version + 1, "updated_at": clock.now()}
    for field in ("priority", "due_date"):
        if field in changes:
            values[field] = changes[field]
    if "assignee_id" in changes:
        assignee_id = changes["assignee_id"]
        if assignee_id is not None:
            await _ensure_assignable_everywhere(
                session, assignee_id, {row.id: row.project_id for row in rows}
            )
        values["assignee_id"] = assignee_id
    if changes.get("status_id") is not None:
        completed = await _to_status(session, changes["status_id"], rows)
    elif "is_completed" in changes:
        completed = changes["is_completed"]
        await _to_first_status(session, rows, done=completed)
    if "is_completed" in changes or changes.get("status_id") is not None:
        values["is_completed"] = completed
        values["completed_at"] = (
            case((Task.is_completed.is_(True), Task.completed_at), else_=clock.now())
            if completed
            else None
        )
    before = {view["id"]: view for view in (task_view(row) for row in rows)}
    await session.execute(
        update(Task)
        .where(Task.id.in_(ids))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if changes.get("add_label_ids") or changes.get("remove_label_ids"):
        await labels_service.add_and_remove_labels(
            await session.connection(),
            task_ids=ids,
            add=changes.get("add_label_ids") or (),
            remove=changes.get("remove_label_ids") or (),
        )
    touch(session, projects={row.project_id for row in rows})
    written = await session.execute(TASK_VIEWS_BY_IDS, {"ids": ids})
    after = [task_view(row) for row in written]
    events = (
        activity.task_event_row(actor_id=principal.user.id, before=before[view["id"]], after=view)
        for view in sorted(after, key=lambda view: view["id"])
    )
    await activity.record_many(session, (event for event in events if event is not None))
    return len(ids)


async def _check_labels(
    session: AsyncSession, changes: Mapping[str, Any], project_ids: Collection[int]
) -> None:
    """422 unless every label added or removed is a label of every task's project."""
    for field in ("add_label_ids", "remove_label_ids"):
        if changes.get(field):
            await labels_service.ensure_labels_of_every_project(
                await session.connection(),
                project_ids=sorted(project_ids),
                label_ids=changes[field],
                loc=("body", "update_data", field),
            )


async def _to_status(session: AsyncSession, status_id: int, rows: Sequence[Any]) -> bool:
    """Send the tasks to the end of the status (422 unless a status of the project of every
    one of them); returns whether it is done."""
    status = (await session.execute(_STATUS, {"status_id": status_id})).first()
    if status is None or any(row.project_id != status.project_id for row in rows):
        raise UnprocessableEntity(
            "The status must be a status of the project of every task",
            loc=("body", "update_data", "status_id"),
        )
    moving = sorted((row.id, status_id) for row in rows if row.status_id != status_id)
    await ordering.place_at_end(await session.connection(), moving)
    return bool(status.category == StatusCategory.DONE)


async def _to_first_status(session: AsyncSession, rows: Sequence[Any], *, done: bool) -> None:
    """Send the tasks whose completion changes to the end of their project's first done
    status (completing) or first todo status (reopening; else first not done)."""
    moving = [row for row in rows if (row.status_category == StatusCategory.DONE) != done]
    if not moving:
        return
    connection = await session.connection()
    kind = ordering.DONE if done else ordering.TODO
    first = await ordering.first_status_ids(connection, {row.project_id for row in moving}, kind)
    await ordering.place_at_end(
        connection, sorted((row.id, first[row.project_id]) for row in moving)
    )


async def _ensure_assignable_everywhere(
    session: AsyncSession, user_id: int, project_of_task: Mapping[int, int]
) -> None:
    """422 unless the user may be assigned a task in the project of every task."""
    parameters = {"project_ids": sorted(set(project_of_task.values())), "assignee_id": user_id}
    allowed = set(await session.scalars(_PROJECTS_ASSIGNABLE, parameters))
    refused = {
        task_id for task_id, project_id in project_of_task.items() if project_id not in allowed
    }
    if refused:
        raise UnprocessableEntity(
            f"The assignee is not the owner or a member of the project of tasks: {_ids(refused)}",
            loc=("body", "update_data", "assignee_id"),
        )
