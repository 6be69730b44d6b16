"""Task use cases: create, read, list, change, delete and move one task (bulk changes live
in `bulk`). Every statement is built in `queries` on its one visibility query, and every
task is answered as the one view of `views`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from taskflow.core import clock
from taskflow.core.cache import touch
from taskflow.core.db import RowLock, begin_transaction, lock_rows, statement_connection
from taskflow.core.errors import Conflict, NotFound, PreconditionFailed, UnprocessableEntity
from taskflow.core.etag import CHANGED_MEANWHILE, check_if_match
from taskflow.core.pagination import Cursor, KeysetPage, decode_cursor
from taskflow.identity.principal import Principal
from taskflow.projects import service as projects_service
from taskflow.projects.policy import (
    ProjectNotFound,
    ProjectRole,
    ensure_can_write_tasks,
    ensure_role_can_write_tasks,
)
from taskflow.tasks import ordering, queries
from taskflow.tasks.filters import TASK_SORT_COLUMNS
from taskflow.tasks.filters import TaskFilters as TaskFilters  # the router builds them
from taskflow.tasks.queries import PROJECT_ID, READ_VERSION, TASK_ID
from taskflow.tasks.views import PersonRef, TaskView, columns_after, task_view


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

    Without `lock`, statement by statement (a change matches the version read here). With
    it, the task row is locked first (until the request commits) and read after the lock,
    as the last writer left it."""
    if lock is None:
        connection = await statement_connection(session)
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


async def _assignee_names(
    connection: AsyncConnection, project_id: int, user_id: int
) -> tuple[str, str]:
    """The email and full name of the user, who may be assigned a task in the project;
    422 when the user may not (projects.queries.assignable)."""
    parameters = {PROJECT_ID: project_id, "assignee_id": user_id}
    row = (await connection.execute(queries.ASSIGNEE_IF_ASSIGNABLE, parameters)).first()
    if row is None:
        raise _assignee_refused()
    return row.email, row.full_name


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
    status_id: int | None = None,
) -> TaskView:
    """Create the task and return its view: at the end of `status_id`, or of the project's
    first status that is not done.

    One statement: an INSERT that checks the caller's access (and the assignee) itself,
    with every value set here, so the answer needs no read back and no ORM unit of work (a
    create is the hottest write). Only when it writes nothing is the project read, to say
    why (404, 403, 409 or 422).
    """
    connection = await statement_connection(session)
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
        "created_at": now,
        "updated_at": now,
    }
    parameters = {**projects_service.viewer(principal), PROJECT_ID: project_id}
    parameters |= {f"new_{column}": value for column, value in values.items()}
    statement = queries.insert_task_if_allowed(
        admin=principal.is_admin, with_assignee=assignee_id is not None
    )
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
    assignee_email, assignee_full_name = assignee_names or (None, None)
    user = principal.user
    # The view's columns in the order of queries.VIEW_COLUMNS, as a read back would give.
    completed_at = values["completed_at"]
    task = (task_id, title, description, priority, place.done, completed_at, due_date, now, now, 1)
    people = (assignee_id, assignee_email, assignee_full_name, user.id, user.email, user.full_name)
    status = (place.status_id, place.status_name, place.status_category, place.position)
    return task_view((*task, project_id, project_name, *people, *status))


async def _place_new(
    connection: AsyncConnection, principal: Principal, project_id: int, status_id: int | None
) -> ordering.Placement:
    """Where a new task goes; when the project has no such status, why it cannot be created
    (404, 403, 409 for the project, else 422 for the status)."""
    kind = ordering.NOT_DONE if status_id is None else ordering.GIVEN
    place = await ordering.at_end(connection, project_id=project_id, kind=kind, status_id=status_id)
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
        await _assignee_names(connection, project_id, assignee_id)


# The columns a change may set, besides the version and updated_at that every change sets.
_CHANGEABLE = ("title", "description", "priority", "due_date", "assignee_id")


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

    First without a lock or transaction (the UPDATE matches the version read). If another
    change landed in between, the task is locked in a transaction (its row on PostgreSQL,
    the database's write lock on SQLite) and read again: the change waits for the ones
    before it and then lands, and If-Match is compared with the version found under the
    lock, so of racers naming one version exactly one wins.
    """
    access = await read_task_to_write(session=session, principal=principal, task_id=task_id)
    try:
        return await _apply_change(session, access, changes, if_match)
    except TaskChangedMeanwhile:
        await begin_transaction(session)  # the lock lasts until the request commits
        await lock_rows(session, queries.LOCK_TASK[RowLock.NO_KEY_UPDATE], {TASK_ID: task_id})
    access = await read_task_to_write(session=session, principal=principal, task_id=task_id)
    return await _apply_change(session, access, changes, if_match)


async def _apply_change(
    session: AsyncSession, access: TaskAccess, changes: Mapping[str, Any], if_match: str | None
) -> TaskView:
    """Write the changes with one UPDATE, guarded by the version `access` read; returns the
    task's view as it is now. 412 (TaskChangedMeanwhile) when the task changed since."""
    access.ensure_may_write()
    task = access.task
    check_if_match(if_match, task["version"])
    connection = await statement_connection(session)
    values = {name: changes[name] for name in _CHANGEABLE if name in changes}
    shown: dict[str, Any] = {}
    if values.get("assignee_id"):
        email, full_name = await _assignee_names(
            connection, task["project"]["id"], values["assignee_id"]
        )
        shown = {"assignee_email": email, "assignee_full_name": full_name}
    place = await _new_place(connection, task, changes)
    if place is not None:
        values |= {"status_id": place.status_id, "position": place.position}
        values |= ordering.completion(place, was_completed=task["is_completed"])
        shown |= place.columns()
    values["updated_at"] = clock.now()
    await _write_if_unchanged(connection, access, values)
    touch(session, projects=[task["project"]["id"]])
    return _view_after(access, {**values, **shown})


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
            connection, project_id=project_id, kind=ordering.GIVEN, status_id=changes["status_id"]
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
    connection: AsyncConnection, access: TaskAccess, values: Mapping[str, Any]
) -> None:
    """UPDATE the task's columns to `values` (and its version) if it still has the version
    `access` read; TaskChangedMeanwhile when it was changed or deleted since."""
    parameters = {f"new_{name}": value for name, value in values.items()}
    parameters |= {TASK_ID: access.task["id"], READ_VERSION: access.task["version"]}
    statement = queries.update_task_if_unchanged(tuple(sorted(values)))
    try:
        result = await connection.execute(statement, parameters)
    except IntegrityError as error:  # the status it goes to was deleted since it was read
        raise Conflict("The board changed meanwhile; send the change again") from error
    if result.rowcount != 1:
        raise TaskChangedMeanwhile()


def _view_after(access: TaskAccess, changed: Mapping[str, Any]) -> TaskView:
    """The view of the task after a write of `changed` (columns by name) on what it read."""
    return task_view(
        columns_after(access.columns, {**changed, "version": access.task["version"] + 1})
    )


async def delete_task(*, session: AsyncSession, access: TaskAccess, if_match: str | None) -> None:
    """Delete the task `access` read (locked, see read_task_to_write)."""
    access.ensure_may_write()
    check_if_match(if_match, access.task["version"])
    parameters = {TASK_ID: access.task["id"], READ_VERSION: access.task["version"]}
    connection = await session.connection()
    result = await connection.execute(queries.DELETE_TASK_IF_UNCHANGED, parameters)
    if result.rowcount != 1:  # under the lock only a bug could make this happen
        raise TaskChangedMeanwhile()
    touch(session, projects=[access.task["project"]["id"]])


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
    an editor too (an assignee who is not the owner or a member there is cleared), to a
    status of its (new) project, and right before or after a task of that status (else to
    its end). Its completion follows the status. Returns the task's view."""
    access.ensure_may_write()
    task = access.task
    source_id = task["project"]["id"]
    target_id = source_id if project_id is None else project_id
    if target_id == source_id and status_id is None and before_id is after_id is None:
        return task
    values: dict[str, Any] = {"updated_at": clock.now()}
    shown: dict[str, Any] = {}
    connection = await session.connection()
    if target_id != source_id:
        # Locked until the move commits: not deleted, nor its members changed, meanwhile.
        target = await projects_service.get_access(
            session=session, principal=principal, project_id=target_id, lock=RowLock.SHARE
        )
        ensure_can_write_tasks(target)
        values["project_id"] = target_id
        shown["project_name"] = target.project.name
        if not await _assignee_stays(connection, task["assignee"], target_id):
            values["assignee_id"] = None
    status = await _status_to_move_to(connection, task, target_id, status_id)
    place = await ordering.next_to(
        connection, status=status, moving_id=task["id"], before_id=before_id, after_id=after_id
    )
    values |= {"status_id": place.status_id, "position": place.position}
    values |= ordering.completion(place, was_completed=task["is_completed"])
    await _write_if_unchanged(connection, access, values)
    touch(session, projects=sorted({source_id, target_id}))
    return _view_after(access, {**values, **shown, **place.columns()})


async def _status_to_move_to(
    connection: AsyncConnection, task: TaskView, project_id: int, status_id: int | None
) -> ordering.Placement:
    """The end of the status a move sends the task to: `status_id` (422 unless a status of
    the project); else its own; else, in another project, the first of the same category,
    or the first not done."""
    if status_id is None and project_id == task["project"]["id"]:
        status_id = task["status"]["id"]
    if status_id is not None:
        place = await ordering.at_end(
            connection, project_id=project_id, kind=ordering.GIVEN, status_id=status_id
        )
        if place is None:
            raise ordering.status_refused("body", "status_id")
        return place
    category = task["status"]["category"]
    same = await ordering.at_end(connection, project_id=project_id, kind=category)
    if same is not None:
        return same
    first = await ordering.at_end(connection, project_id=project_id, kind=ordering.NOT_DONE)
    assert first is not None, "every project keeps a status that is not done"  # noqa: S101
    return first


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
