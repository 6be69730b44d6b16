"""Task use cases: create, read, list, change and delete one task (bulk changes live in
`bulk`, moves in `moves`, the rules of subtasks in `subtasks`). Every statement is built
in `queries` on its one visibility query, and every task is answered as the one view of
`views`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from taskflow.activity import service as activity
from taskflow.activity.queries import event_parameters
from taskflow.core import clock
from taskflow.core.cache import touch
from taskflow.core.db import (
    RowLock,
    begin_transaction,
    lock_rows,
    statement_connection,
    writes_in_one_statement,
)
from taskflow.core.errors import Conflict, NotFound, PreconditionFailed, UnprocessableEntity
from taskflow.core.etag import CHANGED_MEANWHILE, check_if_match
from taskflow.core.pagination import Cursor, KeysetPage, decode_cursor
from taskflow.identity.principal import Principal
from taskflow.labels import service as labels_service
from taskflow.projects import service as projects_service
from taskflow.projects.policy import (
    ProjectRole,
    ensure_role_can_write_tasks,
)
from taskflow.tasks import ordering, queries, subtasks
from taskflow.tasks.filters import TASK_SORT_COLUMNS
from taskflow.tasks.filters import TaskFilters as TaskFilters  # the router builds them
from taskflow.tasks.queries import PROJECT_ID, READ_VERSION, TASK_ID
from taskflow.tasks.views import TaskView, columns_after, task_view


class TaskNotFound(NotFound):
    detail = "Task not found"


class TaskChangedMeanwhile(PreconditionFailed):
    """The task changed between the read a write was based on and the write."""

    def __init__(self) -> None:
        super().__init__(CHANGED_MEANWHILE)


@dataclass(frozen=True, slots=True)
class TaskAccess:
    """A task the caller may see, with the caller's role in its project and whether that
    project is archived: what a change, a delete or a move is checked against and based on.
    `columns` are the view's columns as read, which the answer after the write starts from."""

    task: TaskView
    columns: Sequence[Any]
    role: ProjectRole
    project_archived: bool

    def ensure_may_write(self) -> None:
        """403 for a viewer, 409 in an archived project."""
        ensure_role_can_write_tasks(self.role, archived=self.project_archived)


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of a task list, the number of matching tasks, where the next page starts."""

    tasks: list[TaskView]
    total: int
    next_cursor: Cursor | None


async def _visible_row(
    connection: AsyncConnection, principal: Principal, task_id: int, statement: Any
) -> Row[Any]:
    """The row `statement` (built on visible_tasks) gives for the task; 404 when the caller
    cannot see it. On a connection: the rows are columns, so the session's ORM steps would
    add nothing."""
    parameters = {**projects_service.viewer(principal), TASK_ID: task_id}
    row = (await connection.execute(statement, parameters)).first()
    if row is None:
        raise TaskNotFound()
    return row


async def write_connection(session: AsyncSession) -> AsyncConnection:
    """The connection a task create or change works on. On PostgreSQL, statement by
    statement (core.db.statement_connection: no BEGIN and COMMIT round trips), the write's
    activity event then riding in the write's own statement; on SQLite in the request's
    transaction, which its event joins (SQLite has no data-modifying CTEs)."""
    if session.get_bind().dialect.name == "postgresql":
        return await statement_connection(session)
    return await session.connection()


async def read_task(*, session: AsyncSession, principal: Principal, task_id: int) -> TaskView:
    """The task as the caller sees it; 404 when the caller cannot see it."""
    statement = queries.visible_task_view(admin=principal.is_admin)
    connection = await session.connection()
    return task_view(await _visible_row(connection, principal, task_id, statement))


async def project_of_task(*, session: AsyncSession, task_id: int) -> int | None:
    """The project a task is in, whoever may see it (for cache bookkeeping only)."""
    return await session.scalar(queries.PROJECT_OF_TASK, {TASK_ID: task_id})


async def read_task_to_write(
    *, session: AsyncSession, principal: Principal, task_id: int, lock: RowLock | None = None
) -> TaskAccess:
    """The task a write is based on; 404 when the caller cannot see it.

    Without `lock`, as a change works (`write_connection`; the change matches the version
    read here). With it, the task row is locked first (until the request commits) and read
    after the lock, as the last writer left it."""
    if lock is None:
        connection = await write_connection(session)
    else:
        await lock_rows(session, queries.LOCK_TASK[lock], {TASK_ID: task_id})
        connection = await session.connection()
    statement = queries.visible_task_to_write(admin=principal.is_admin)
    row = await _visible_row(connection, principal, task_id, statement)
    return TaskAccess(
        task=task_view(row),
        columns=row,
        role=ProjectRole(row.role),
        project_archived=row.project_archived,
    )


async def list_tasks(
    *,
    session: AsyncSession,
    principal: Principal,
    filters: TaskFilters,
    page: KeysetPage,
    sort: str = "-created_at",
) -> TaskPage:
    """One page of the visible tasks that match, the number of them all, and where the
    next page starts (None on the last page)."""
    sort_key = sort.removeprefix("-")
    parameters = {
        **projects_service.viewer(principal),
        **filters.parameters(clock.now()),
        "skip": page.skip,
        # One row more than the page says whether a next page exists.
        "rows": page.limit + 1,
    }
    start = queries.FROM_OFFSET
    if page.cursor is not None:
        cursor = decode_cursor(page.cursor, sort=sort, column=TASK_SORT_COLUMNS[sort_key])
        start = queries.AFTER_EMPTY if cursor.value is None else queries.AFTER_VALUE
        parameters["after_id"] = cursor.last_id
        if cursor.value is not None:
            parameters["after_value"] = cursor.value
    connection = await session.connection()  # columns only: no ORM steps (see read_task)
    page_query, count_query = queries.task_list_statements(
        admin=principal.is_admin,
        filters=filters.shape(),
        sort=sort,
        start=start,
        # An administrator sees every project: one index in creation order serves better.
        per_project=sort_key == "created_at"
        and not principal.is_admin
        and connection.dialect.name == "postgresql",
    )
    rows = list(await connection.execute(page_query, parameters))
    total = rows[0].total if rows else await connection.scalar(count_query, parameters)
    next_cursor = None
    if len(rows) > page.limit:
        del rows[page.limit :]
        last = rows[-1]
        value = last.board_key if sort_key == "position" else getattr(last, sort_key)
        next_cursor = Cursor(sort=sort, value=value, last_id=last.id)
    return TaskPage(
        tasks=[task_view(row) for row in rows], total=total or 0, next_cursor=next_cursor
    )


def _assignee_refused() -> UnprocessableEntity:
    return UnprocessableEntity(
        "The assignee must be the owner or a member of the project", loc=("body", "assignee_id")
    )


async def assignee_names(
    connection: AsyncConnection, project_id: int, user_id: int
) -> tuple[str, str]:
    """The email and full name of the user, who may be assigned a task in the project;
    422 when the user may not (projects.queries.assignable)."""
    parameters = {PROJECT_ID: project_id, "assignee_id": user_id}
    row = (await connection.execute(queries.ASSIGNEE_IF_ASSIGNABLE, parameters)).first()
    if row is None:
        raise _assignee_refused()
    return row.email, row.full_name


# The columns a change may set, besides the version and updated_at that every change sets.
_CHANGEABLE = ("title", "description", "priority", "due_date", "assignee_id")
_STRUCTURAL = frozenset({"parent_id", "label_ids"})


async def update_task(
    *,
    session: AsyncSession,
    principal: Principal,
    task_id: int,
    changes: Mapping[str, Any],
    if_match: str | None,
) -> TaskView:
    """Change the task and return its view; every change lands unless If-Match names
    another version.

    First without a lock (the UPDATE matches the version read). If another change landed
    in between, the task is locked (its row on PostgreSQL, the database's write lock on
    SQLite) and read again: the change waits for the ones before it and then lands, and
    If-Match is compared with the version found under the lock, so of racers naming one
    version exactly one wins. The change's activity event, from the task's view before and
    after it, is written by the same statement or in the same transaction.
    """
    # A new parent or new labels: several statements, so under the lock from the start.
    if not _STRUCTURAL & changes.keys():
        access = await read_task_to_write(session=session, principal=principal, task_id=task_id)
        try:
            return await _apply_change(session, principal, access, changes, if_match)
        except TaskChangedMeanwhile:
            pass
    await begin_transaction(session)  # the lock lasts until the request commits
    await lock_rows(session, queries.LOCK_TASK[RowLock.NO_KEY_UPDATE], {TASK_ID: task_id})
    access = await read_task_to_write(session=session, principal=principal, task_id=task_id)
    return await _apply_change(session, principal, access, changes, if_match)


async def _apply_change(
    session: AsyncSession,
    principal: Principal,
    access: TaskAccess,
    changes: Mapping[str, Any],
    if_match: str | None,
) -> TaskView:
    """Write the changes with one UPDATE, guarded by the version `access` read; returns the
    task's view as it is now. 412 (TaskChangedMeanwhile) when the task changed since."""
    access.ensure_may_write()
    task = access.task
    check_if_match(if_match, task["version"])
    connection = await write_connection(session)
    values = {name: changes[name] for name in _CHANGEABLE if name in changes}
    shown: dict[str, Any] = {}
    if values.get("assignee_id"):
        email, full_name = await assignee_names(
            connection, task["project"]["id"], values["assignee_id"]
        )
        shown = {"assignee_email": email, "assignee_full_name": full_name}
    place = await _new_place(connection, task, changes)
    if place is not None:
        values |= {"status_id": place.status_id, "position": place.position}
        values |= ordering.completion(place, was_completed=task["is_completed"])
        shown |= place.columns()
    project_id = task["project"]["id"]
    if changes.get("parent_id") is not None:
        await subtasks.lock_tree(session, project_id, changes["parent_id"])
        await subtasks.check_parent(
            connection, project_id=project_id, parent_id=changes["parent_id"], task_id=task["id"]
        )
    if "parent_id" in changes:
        values["parent_id"] = changes["parent_id"]
    labels: Any = None
    if "label_ids" in changes:
        labels = await labels_service.labels_in_project(
            connection, project_id=project_id, label_ids=changes["label_ids"]
        )
    values["updated_at"] = clock.now()
    after = _view_after(access, {**values, **shown})
    if labels is not None:
        after["labels"] = labels
    await _write_if_unchanged(session, connection, principal, access, values, after)
    if labels is not None:
        await labels_service.replace_task_labels(
            connection, task_id=task["id"], label_ids=changes["label_ids"]
        )
    touch(session, projects=[project_id])
    return after


async def _new_place(
    connection: AsyncConnection, task: TaskView, changes: Mapping[str, Any]
) -> ordering.Placement | None:
    """Where a change sends the task: the end of the status `status_id` names (422 unless
    one of its project), or, when `is_completed` changes, the end of the first done (or
    first todo) status; None when it stays where it is."""
    project_id, status = task["project"]["id"], task["status"]
    if changes.get("status_id") is not None:
        if changes["status_id"] == status["id"]:
            return None
        place = await ordering.at_end(
            connection, project_id=project_id, status_id=changes["status_id"]
        )
        if place is None:
            raise ordering.status_refused("body", "status_id")
        return place
    completed = changes.get("is_completed")
    if completed is None or completed == (status["category"] == "done"):
        return None
    kind = ordering.DONE if completed else ordering.TODO
    return await ordering.at_end(connection, project_id=project_id, kind=kind)


async def _write_if_unchanged(
    session: AsyncSession,
    connection: AsyncConnection,
    principal: Principal,
    access: TaskAccess,
    values: Mapping[str, Any],
    after: TaskView,
) -> None:
    """UPDATE the task's columns to `values` (and its version) if it still has the version
    `access` read, and write the activity event of its going from `access.task` to `after`
    (if it changed anything a reader sees): in the same statement when the session works
    statement by statement, else in its transaction. TaskChangedMeanwhile when the task was
    changed or deleted since it was read."""
    event = activity.task_event_row(actor_id=principal.user.id, before=access.task, after=after)
    folded = event is not None and writes_in_one_statement(session)
    parameters = {f"new_{name}": value for name, value in values.items()}
    parameters |= {TASK_ID: access.task["id"], READ_VERSION: access.task["version"]}
    columns = tuple(sorted(values))
    if folded and event is not None:
        statement = queries.update_task_if_unchanged_logged(columns)
        parameters |= event_parameters(event)
    else:
        statement = queries.update_task_if_unchanged(columns)
    try:
        result = await connection.execute(statement, parameters)
    except IntegrityError as error:  # the status it goes to was deleted since it was read
        raise Conflict("The board changed meanwhile; send the change again") from error
    if result.rowcount != 1:
        raise TaskChangedMeanwhile()
    if event is not None and not folded:
        await activity.record_many(session, [event])


def _view_after(access: TaskAccess, changed: Mapping[str, Any]) -> TaskView:
    """The view of the task after a write of `changed` (columns by name) on what it read
    (with the labels it read)."""
    return task_view(
        columns_after(access.columns, {**changed, "version": access.task["version"] + 1})
    )


async def delete_task(
    *, session: AsyncSession, principal: Principal, access: TaskAccess, if_match: str | None
) -> None:
    """Delete the task `access` read (locked, see read_task_to_write) and its subtasks at
    every level; each one's `task.deleted` event stays in the project's activity with the
    task's other events."""
    access.ensure_may_write()
    check_if_match(if_match, access.task["version"])
    parameters = {TASK_ID: access.task["id"], READ_VERSION: access.task["version"]}
    connection = await session.connection()
    below = await subtasks.subtasks_of(connection, access.task["id"])
    titles = await subtasks.titles_of(connection, below)
    result = await connection.execute(queries.DELETE_TASK_IF_UNCHANGED, parameters)
    if result.rowcount != 1:  # under the lock only a bug could make this happen
        raise TaskChangedMeanwhile()
    project_id = access.task["project"]["id"]
    touch(session, projects=[project_id])
    gone = [(access.task["id"], access.task["title"]), *titles]
    await activity.record_many(
        session,
        (
            activity.event_row(
                type="task.deleted",
                actor_id=principal.user.id,
                project_id=project_id,
                task_id=task_id,
                changes={"title": [title, None]},
            )
            for task_id, title in gone
        ),
    )
