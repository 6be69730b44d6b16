"""Creating a task: one statement that checks the caller's access itself, with its activity
event (see `create_task`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from taskflow.activity import service as activity
from taskflow.activity.queries import event_parameters
from taskflow.core import clock
from taskflow.core.cache import touch
from taskflow.core.db import begin_transaction, writes_in_one_statement
from taskflow.core.errors import Conflict
from taskflow.core.etag import CHANGED_MEANWHILE
from taskflow.identity.principal import Principal
from taskflow.labels import service as labels_service
from taskflow.projects import service as projects_service
from taskflow.projects.policy import ProjectNotFound, ProjectRole, ensure_role_can_write_tasks
from taskflow.tasks import ordering, queries, service, subtasks
from taskflow.tasks.queries import PROJECT_ID
from taskflow.tasks.views import TaskView, task_view

# How often a write is tried again when what refused it had changed by the time its refusal
# was looked into (each failed try means another request changed the task or project).
WRITE_ATTEMPTS = 10


async def create_task(
    *,
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    title: str,
    description: str | None,
    priority: int,
    due_date: datetime | None,
    assignee_id: int | None,
    parent_id: int | None = None,
    label_ids: Sequence[int] = (),
    status_id: int | None = None,
) -> TaskView:
    """Create the task and return its view: at the end of `status_id`, or of the project's
    first status that is not done.

    One statement: an INSERT that checks the caller's access (and the assignee) itself,
    with every value set here, so the answer needs no read back and no ORM unit of work (a
    create is the hottest write). Only when it writes nothing is the project read, to say
    why (404, 403, 409 or 422). Its `task.created` event is part of that statement
    (PostgreSQL) or of the same transaction. A subtask or a labelled task is written in a
    transaction with its parent's tree locked, or its labels (see subtasks, labels).
    """
    if parent_id is not None or label_ids:
        await begin_transaction(session)
    connection = await service.write_connection(session)
    if parent_id is not None:
        await subtasks.lock_tree(session, project_id, parent_id)
        await _refuse_create(connection, principal, project_id, assignee_id)
        await subtasks.check_parent(
            connection, project_id=project_id, parent_id=parent_id, task_id=None
        )
    event = activity.event_row(
        type="task.created",
        actor_id=principal.user.id,
        project_id=project_id,
        changes={"title": [None, title]},
    )
    folded = writes_in_one_statement(session)
    now = clock.now()
    place = await _place_new(connection, principal, project_id, status_id)
    values: dict[str, Any] = {
        "title": title,
        "description": description,
        "priority": priority,
        "is_completed": place.done,
        "completed_at": now if place.done else None,
        "status_id": place.status_id,
        "position": place.position,
        "due_date": due_date,
        "assignee_id": assignee_id,
        "created_by_id": principal.user.id,
        "version": 1,
        "comment_count": 0,
        "created_at": now,
        "updated_at": now,
        "parent_id": parent_id,
    }
    parameters = {**projects_service.viewer(principal), PROJECT_ID: project_id}
    parameters |= {f"new_{column}": value for column, value in values.items()}
    build = queries.insert_task_if_allowed_logged if folded else queries.insert_task_if_allowed
    statement = build(admin=principal.is_admin, with_assignee=assignee_id is not None)
    if folded:
        parameters |= event_parameters(event)
    for _ in range(WRITE_ATTEMPTS):
        try:
            created = (await connection.execute(statement, parameters)).first()
        except IntegrityError as error:  # its status was deleted since it was read
            raise Conflict("The board changed meanwhile; send the task again") from error
        if created is not None:
            break
        await _refuse_create(connection, principal, project_id, assignee_id)
    else:
        raise Conflict(CHANGED_MEANWHILE)
    touch(session, projects=[project_id])
    task_id, project_name, *assignee_names = created
    labels = await labels_service.labels_in_project(
        connection, project_id=project_id, label_ids=label_ids
    )
    if label_ids:
        await labels_service.replace_task_labels(connection, task_id=task_id, label_ids=label_ids)
    assignee_email, assignee_full_name = assignee_names or (None, None)
    user = principal.user
    # The view's columns in the order of queries.VIEW_COLUMNS, as a read back would give.
    completed_at = values["completed_at"]
    task = (task_id, title, description, priority, place.done, completed_at, due_date, now, now, 1)
    people = (assignee_id, assignee_email, assignee_full_name, user.id, user.email, user.full_name)
    if not folded:
        await activity.record_many(session, [{**event, "task_id": task_id}])
    status = (place.status_id, place.status_name, place.status_category, place.position)
    view = task_view((*task, project_id, project_name, *people, 0, parent_id, 0, 0, *status, None))
    view["labels"] = labels  # type: ignore[typeddict-item]
    return view


async def _place_new(
    connection: AsyncConnection, principal: Principal, project_id: int, status_id: int | None
) -> ordering.Placement:
    """Where a new task goes; when the project has no such status, why it cannot be created
    (404, 403, 409 for the project, else 422 for the status)."""
    place = await ordering.at_end(connection, project_id=project_id, status_id=status_id)
    if place is None:
        await _refuse_create(connection, principal, project_id, None)
        raise ordering.status_refused("body", "status_id")
    return place


async def _refuse_create(
    connection: AsyncConnection, principal: Principal, project_id: int, assignee_id: int | None
) -> None:
    """Raise why a task cannot be created in the project now: not seen (404), read-only
    (403), archived (409), or an assignee that may not be assigned (422). Returns when
    nothing refuses it any more (it changed after the INSERT was refused)."""
    parameters = {**projects_service.viewer(principal), PROJECT_ID: project_id}
    statement = queries.project_to_create_in(admin=principal.is_admin)
    project = (await connection.execute(statement, parameters)).first()
    if project is None:
        raise ProjectNotFound()
    ensure_role_can_write_tasks(ProjectRole(project.role), archived=project.is_archived)
    if assignee_id is not None:
        await service.assignee_names(connection, project_id, assignee_id)
