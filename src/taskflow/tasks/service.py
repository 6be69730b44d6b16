"""Task use cases. Every statement that reads tasks is built on the projects' one
visibility rule (`projects_service.access_subquery_for`), so no route can forget to check
who may see a task."""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased, contains_eager, joinedload

from taskflow.core import clock
from taskflow.core.cache import touch
from taskflow.core.db import (
    BigIntId,
    RowLock,
    begin_transaction,
    lock_rows,
    locked,
    statement_connection,
)
from taskflow.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    UnprocessableEntity,
)
from taskflow.core.etag import CHANGED_MEANWHILE, check_if_match, flush_versioned
from taskflow.core.pagination import (
    Cursor,
    KeysetPage,
    after_cursor,
    decode_cursor,
    sort_clauses,
)
from taskflow.identity.principal import Principal
from taskflow.projects import service as projects_service
from taskflow.projects.models import Project, ProjectMember
from taskflow.projects.policy import (
    ProjectAccess,
    ProjectArchived,
    ProjectNotFound,
    ProjectRole,
    ensure_can_write_tasks,
    ensure_role_can_write_tasks,
    may_write_tasks,
)
from taskflow.tasks.models import Task
from taskflow.users.models import User

TASK_SORT_COLUMNS = {
    "created_at": Task.created_at,
    "updated_at": Task.updated_at,
    "due_date": Task.due_date,
    "priority": Task.priority,
    "title": Task.title,
}


_TASK_ID = "task_id"
_PROJECT_ID = "project_id"
_PROJECT_OF_TASK = select(Task.project_id).where(Task.id == bindparam(_TASK_ID, type_=BigIntId))
# The task row alone, locked (PostgreSQL) before a write reads it: a statement that joins
# other tables and waits for the lock would recheck the new row against the joined rows it
# read before (a moved task would vanish from it), so what to write is read after it.
_LOCK_TASK = {
    lock: locked(select(Task.id).where(Task.id == bindparam(_TASK_ID, type_=BigIntId)), Task, lock)
    for lock in (RowLock.UPDATE, RowLock.NO_KEY_UPDATE)
}


class TaskNotFound(NotFound):
    detail = "Task not found"


@dataclass(frozen=True, slots=True)
class TaskAccess:
    task: Task
    role: ProjectRole

    @property
    def project_access(self) -> ProjectAccess:
        return ProjectAccess(project=self.task.project, role=self.role)


@dataclass(frozen=True, slots=True)
class TaskPage:
    tasks: list[dict[str, Any]]  # shaped like TaskRead (see task_view)
    total: int
    next_cursor: Cursor | None


@dataclass(frozen=True, slots=True)
class TaskFilters:
    project_id: int | None = None
    status: str | None = None
    assignee_ids: frozenset[int] = frozenset()
    priority: int | None = None
    priority_min: int | None = None
    search: str | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None

    def shape(self) -> tuple[Any, ...]:
        """Which filters are set (not their values): what the list's SQL depends on."""
        return (
            self.project_id is not None,
            self.status,
            len(self.assignee_ids),
            self.priority is not None,
            self.priority_min is not None,
            bool(self.search),
            self.due_before is not None,
            self.due_after is not None,
        )

    def parameters(self, now: datetime) -> dict[str, Any]:
        """The values of the bound parameters of `_filter_conditions(self.shape())`."""
        values: dict[str, Any] = {
            "f_project_id": self.project_id,
            "f_priority": self.priority,
            "f_priority_min": self.priority_min,
            "f_due_before": self.due_before,
            "f_due_after": self.due_after,
        }
        if self.status in ("overdue", "pending"):
            values["f_now"] = now
        if self.search:
            values["f_search"] = _like_escaped(self.search)
        for position, user_id in enumerate(sorted(self.assignee_ids)):
            values[f"f_assignee_{position}"] = user_id
        return {name: value for name, value in values.items() if value is not None}


_LIKE_ESCAPE = "/"


def _like_escaped(text: str) -> str:
    """`text` matched literally by LIKE ... ESCAPE '/' (what autoescape does to a literal)."""
    for special in (_LIKE_ESCAPE, "%", "_"):
        text = text.replace(special, _LIKE_ESCAPE + special)
    return text


def _filter_conditions(shape: tuple[Any, ...]) -> list[Any]:
    """The WHERE of a TaskFilters of this shape, with its values as bound parameters."""
    (project, status, assignees, priority, priority_min, search, due_before, due_after) = shape
    due = Task.due_date.type

    conditions: list[Any] = []
    if project:
        conditions.append(Task.project_id == bindparam("f_project_id", type_=BigIntId))
    if status == "completed":
        conditions.append(Task.is_completed.is_(True))
    elif status == "overdue":
        conditions += [Task.is_completed.is_(False), Task.due_date < bindparam("f_now", type_=due)]
    elif status == "pending":
        conditions += [
            Task.is_completed.is_(False),
            or_(Task.due_date.is_(None), Task.due_date >= bindparam("f_now", type_=due)),
        ]
    conditions.extend(
        Task.assignee_id == bindparam(f"f_assignee_{position}", type_=BigIntId)
        for position in range(assignees)
    )
    if priority:
        conditions.append(Task.priority == bindparam("f_priority", type_=Task.priority.type))
    if priority_min:
        conditions.append(Task.priority >= bindparam("f_priority_min", type_=Task.priority.type))
    if search:
        text = bindparam("f_search", type_=Task.title.type)
        conditions.append(
            or_(
                Task.title.icontains(text, escape=_LIKE_ESCAPE),
                Task.description.icontains(text, escape=_LIKE_ESCAPE),
            )
        )
    if due_before:
        conditions.append(Task.due_date < bindparam("f_due_before", type_=due))
    if due_after:
        conditions.append(Task.due_date > bindparam("f_due_after", type_=due))
    return conditions


def _with_relations(query: Select[Task, str]) -> Select[Task, str]:
    return query.join(Task.project).options(
        contains_eager(Task.project),
        joinedload(Task.assignee),
        joinedload(Task.created_by),
    )


@functools.cache
def _visible_tasks(*, admin: bool) -> Select[Task, str]:
    """Tasks of the projects the caller may see, with its role in each task's project, their
    project, assignee and creator loaded in the same query. Execute with
    `projects_service.viewer(principal)`."""
    access = projects_service.access_subquery_for(admin=admin)
    return _with_relations(
        select(Task, access.c.role).join(access, access.c.project_id == Task.project_id)
    )


@functools.cache
def _visible_task_by_id(*, admin: bool) -> Select[Task, str]:
    """Built and compiled once: the task route's query differs only in its parameters."""
    return _visible_tasks(admin=admin).where(Task.id == bindparam(_TASK_ID, type_=BigIntId))


# What a task is shown with, read as columns: no ORM objects on the read paths.
_ASSIGNEE = aliased(User, name="assignee")
_CREATOR = aliased(User, name="creator")
_VIEW_COLUMNS = (
    Task.id,
    Task.title,
    Task.description,
    Task.priority,
    Task.is_completed,
    Task.completed_at,
    Task.due_date,
    Task.created_at,
    Task.updated_at,
    Task.version,
    Task.project_id,
    Project.name.label("project_name"),
    Task.assignee_id,
    _ASSIGNEE.email.label("assignee_email"),
    _ASSIGNEE.full_name.label("assignee_full_name"),
    Task.created_by_id,
    _CREATOR.email.label("creator_email"),
    _CREATOR.full_name.label("creator_full_name"),
)
_VIEW_WIDTH = len(_VIEW_COLUMNS)


def _task_views() -> Select[*tuple[Any, ...]]:
    return (
        select(*_VIEW_COLUMNS)
        .select_from(Task)
        .join(Project, Project.id == Task.project_id)
        .join(_CREATOR, _CREATOR.id == Task.created_by_id)
        .outerjoin(_ASSIGNEE, _ASSIGNEE.id == Task.assignee_id)
    )


def task_view(row: Row[Any]) -> dict[str, Any]:
    """A row of _task_views as the data of TaskRead (plus `version`, for the ETag).

    Unpacked by position, in the order of _VIEW_COLUMNS (the row may carry more columns
    after them): a row's attribute lookups cost ten times its positions.
    """
    (
        task_id,
        title,
        description,
        priority,
        is_completed,
        completed_at,
        due_date,
        created_at,
        updated_at,
        version,
        project_id,
        project_name,
        assignee_id,
        assignee_email,
        assignee_full_name,
        created_by_id,
        creator_email,
        creator_full_name,
    ) = row[:_VIEW_WIDTH]
    return {
        "id": task_id,
        "title": title,
        "description": description,
        "priority": priority,
        "is_completed": is_completed,
        "completed_at": completed_at,
        "due_date": due_date,
        "created_at": created_at,
        "updated_at": updated_at,
        "version": version,
        "project": {"id": project_id, "name": project_name},
        "assignee": None
        if assignee_id is None
        else {"id": assignee_id, "email": assignee_email, "full_name": assignee_full_name},
        "created_by": {"id": created_by_id, "email": creator_email, "full_name": creator_full_name},
    }


@functools.cache
def _visible_task_view_by_id(*, admin: bool) -> Select[*tuple[Any, ...]]:
    access = projects_service.access_subquery_for(admin=admin)
    return (
        _task_views()
        .join(access, access.c.project_id == Task.project_id)
        .where(Task.id == bindparam(_TASK_ID, type_=BigIntId))
    )


async def _visible_task_row(
    connection: AsyncConnection,
    principal: Principal,
    task_id: int,
    statement: Select[*tuple[Any, ...]],
) -> Row[Any]:
    """The row `statement` (built on the caller's visibility) gives for the task; 404 when
    the caller cannot see it. On a connection: the rows are columns, so the session's ORM
    steps would add nothing."""
    parameters = {**projects_service.viewer(principal), _TASK_ID: task_id}
    row = (await connection.execute(statement, parameters)).first()
    if row is None:
        raise TaskNotFound()
    return row


async def read_task_view(
    *, session: AsyncSession, principal: Principal, task_id: int
) -> dict[str, Any]:
    """The task as TaskRead shows it (see task_view); 404 when the caller cannot see it."""
    statement = _visible_task_view_by_id(admin=principal.is_admin)
    connection = await session.connection()
    return task_view(await _visible_task_row(connection, principal, task_id, statement))


async def project_of_task(*, session: AsyncSession, task_id: int) -> int | None:
    """The project a task is in, whoever may see it (for cache bookkeeping only)."""
    return await session.scalar(_PROJECT_OF_TASK, {_TASK_ID: task_id})


async def get_task_access(
    *, session: AsyncSession, principal: Principal, task_id: int, lock: RowLock | None = None
) -> TaskAccess:
    """The task and the caller's role in its project; 404 when the caller cannot see it.
    With `lock`, the task is locked first and read as the last writer left it."""
    if lock is not None:
        await lock_rows(session, _LOCK_TASK[lock], {_TASK_ID: task_id})
    query = _visible_task_by_id(admin=principal.is_admin)
    parameters = {**projects_service.viewer(principal), _TASK_ID: task_id}
    row = (await session.execute(query, parameters)).first()
    if row is None:
        raise TaskNotFound()
    task, role = row
    return TaskAccess(task=task, role=ProjectRole(role))


# How the list's page starts: at an offset, after a cursor, or after a cursor whose sort
# value is empty (NULL), which needs a WHERE of its own.
_FROM_OFFSET, _AFTER_VALUE, _AFTER_EMPTY = "offset", "after", "after-empty"


@functools.lru_cache(maxsize=512)
def _list_statements(
    *, admin: bool, filters: tuple[Any, ...], sort: str, start: str, per_project: bool = False
) -> tuple[Select[*tuple[Any, ...]], Select[int]]:
    """The page and count statements of a task list of this shape, built and compiled once:
    every value (caller, filters, cursor, offset, limit) is a bound parameter.

    `per_project` (PostgreSQL, by creation time): the page is merged from the first rows of
    each visible project, each read in order from the (project_id, created_at, id) index,
    so a page reads a few rows per project instead of sorting every visible task.
    """
    sort_key = sort.removeprefix("-")
    column = TASK_SORT_COLUMNS[sort_key]
    order = sort_clauses(sort, TASK_SORT_COLUMNS, Task.id)
    access = projects_service.access_subquery_for(admin=admin)
    conditions = _filter_conditions(filters)
    matching = (
        select(Task.id, access.c.role)
        .join(access, access.c.project_id == Task.project_id)
        .where(*conditions)
    )
    after = []
    if start != _FROM_OFFSET:
        after.append(
            after_cursor(
                column,
                Task.id,
                descending=sort.startswith("-"),
                value=None
                if start == _AFTER_EMPTY
                else bindparam("after_value", type_=column.type),
                last_id=bindparam("after_id", type_=BigIntId),
            )
        )
    # BIGINT: the per-project limit, skip + rows, passes 2**31 - 1 when skip is near its maximum.
    skip, rows = bindparam("skip", type_=BigIntId), bindparam("rows", type_=BigIntId)
    # The page is chosen on the tasks alone, then only its rows are joined to their project
    # and people: joining first would join every matching task before the sort.
    if per_project:
        chosen = _chosen_per_project(access, [*conditions, *after], sort, skip, rows)
    else:
        chosen = matching.where(*after).order_by(*order).offset(skip).limit(rows).subquery("chosen")
    count = select(func.count()).select_from(matching.subquery())
    # The total rides along with the page (computed once, as an uncorrelated subquery):
    # one round trip for both. An empty page carries none, so it asks `count`.
    page = (
        _task_views()
        .add_columns(count.scalar_subquery().label("total"))
        .join(chosen, chosen.c.id == Task.id)
        .order_by(*order)
    )
    return page, count


def _chosen_per_project(access: Any, conditions: list[Any], sort: str, skip: Any, rows: Any) -> Any:
    """The ids of the page: the first skip + rows tasks of each project in the creation
    order (created_at is never empty, so the index's order is the list's), merged."""
    descending = sort.startswith("-")
    in_index_order = (
        [Task.created_at.desc(), Task.id.desc()] if descending else [Task.created_at, Task.id]
    )
    firsts = (
        select(Task.id, Task.created_at)
        .where(Task.project_id == access.c.project_id, *conditions)
        .order_by(*in_index_order)
        .limit(skip + rows)
        .lateral("firsts")
    )
    merged = sort_clauses(sort, {"created_at": firsts.c.created_at}, firsts.c.id)
    return (
        select(firsts.c.id)
        .select_from(access)
        .join(firsts, true())
        .order_by(*merged)
        .offset(skip)
        .limit(rows)
        .subquery("chosen")
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
    start = _FROM_OFFSET
    if page.cursor is not None:
        cursor = decode_cursor(page.cursor, sort=sort, column=TASK_SORT_COLUMNS[sort_key])
        start = _AFTER_EMPTY if cursor.value is None else _AFTER_VALUE
        parameters["after_id"] = cursor.last_id
        if cursor.value is not None:
            parameters["after_value"] = cursor.value
    connection = await session.connection()  # columns only: no ORM steps (see read_task_view)
    page_query, count_query = _list_statements(
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
        next_cursor = Cursor(sort=sort, value=getattr(last, sort_key), last_id=last.id)
    return TaskPage(
        tasks=[task_view(row) for row in rows], total=total or 0, next_cursor=next_cursor
    )


def _is_participant(project_id: Any, user_id: Any) -> Any:
    """SQL: the user owns the project or is one of its members."""
    return or_(
        exists().where(Project.id == project_id, Project.owner_id == user_id),
        exists().where(ProjectMember.project_id == project_id, ProjectMember.user_id == user_id),
    )


async def _assignable_user(session: AsyncSession, project_id: int, user_id: int) -> User:
    """The active owner or member of the project with this id, else 422."""
    user = await session.scalar(
        select(User).where(
            User.id == user_id, User.is_active.is_(True), _is_participant(project_id, User.id)
        )
    )
    if user is None:
        raise UnprocessableEntity(
            "The assignee must be the owner or a member of the project", loc=("body", "assignee_id")
        )
    return user


def _user_summary(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "full_name": user.full_name}


@functools.cache
def _new_task_project(*, admin: bool) -> Select[*tuple[Any, ...]]:
    """The project a task is to be created in, as the caller sees it: whether it is archived
    and the caller's role; no row when the caller cannot see it."""
    access = projects_service.access_subquery_for(admin=admin)
    return (
        select(Project.is_archived, access.c.role)
        .join(access, access.c.project_id == Project.id)
        .where(Project.id == bindparam(_PROJECT_ID, type_=BigIntId))
    )


# The columns a create sets, each from its `_bound` parameter (the project's id comes from
# the SELECT that checks it, the task's id from its sequence).
_CREATED_COLUMNS = tuple(
    column.name for column in Task.__table__.columns if column.name not in ("id", "project_id")
)
_WRITING_ROLES = tuple(role.value for role in ProjectRole if may_write_tasks(role))
# How often a write is tried again when what refused it had changed by the time its refusal
# was looked into (each failed try means another request changed the task or project).
WRITE_ATTEMPTS = 10


def _bound(column: str) -> Any:
    """The bind parameter of a value written to a task column: `new_<column>`."""
    return bindparam(f"new_{column}", type_=Task.__table__.c[column].type)


@functools.cache
def _insert_task_if_allowed(*, admin: bool, with_assignee: bool) -> Any:
    """INSERT of a task, from a SELECT that finds its project only where the caller may
    write tasks (seen, a writing role, not archived) and, `with_assignee`, the assignee
    may be assigned: no row is written otherwise. Returns the id and the names the answer
    shows."""
    access = projects_service.access_subquery_for(admin=admin)
    project_id = bindparam(_PROJECT_ID, type_=BigIntId)
    conditions = [
        Project.id == project_id,
        Project.is_archived.is_(False),
        # One comparison per role, bound like any value (IN would be expanded per execution).
        or_(*(access.c.role == role for role in _WRITING_ROLES)),
    ]
    # What the answer shows besides the values written, read by the ids the request gave.
    shown = [select(Project.name).where(Project.id == project_id).scalar_subquery()]
    if with_assignee:
        assignee_id = _bound("assignee_id")
        conditions.append(
            exists().where(
                User.id == assignee_id,
                User.is_active.is_(True),
                _is_participant(project_id, User.id),
            )
        )
        assignee = select(User).where(User.id == assignee_id)
        shown += [
            assignee.with_only_columns(User.email).scalar_subquery(),
            assignee.with_only_columns(User.full_name).scalar_subquery(),
        ]
    source = locked(
        select(Project.id, *(_bound(column) for column in _CREATED_COLUMNS))
        .join(access, access.c.project_id == Project.id)
        .where(*conditions),
        Project,
        # The project cannot be deleted meanwhile, nor (with an assignee) its members change.
        RowLock.SHARE if with_assignee else RowLock.KEY_SHARE,
    )
    return (
        insert(Task)
        .from_select(["project_id", *_CREATED_COLUMNS], source)
        .returning(Task.id, *shown)
    )


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
) -> dict[str, Any]:
    """Create the task; returns it as TaskRead shows it (see task_view).

    One statement: an INSERT that checks the caller's access (and the assignee) itself,
    with every value set here, so the answer needs no read back and no ORM unit of work (a
    create is the hottest write). Only when it writes nothing is the project read, to say
    why (404, 403, 409 or 422).
    """
    connection = await statement_connection(session)
    now = clock.now()
    values: dict[str, Any] = {
        "title": title,
        "description": description,
        "priority": priority,
        "is_completed": False,
        "completed_at": None,
        "due_date": due_date,
        "assignee_id": assignee_id,
        "created_by_id": principal.user.id,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    parameters = {**projects_service.viewer(principal), _PROJECT_ID: project_id}
    parameters |= {f"new_{column}": value for column, value in values.items()}
    statement = _insert_task_if_allowed(
        admin=principal.is_admin, with_assignee=assignee_id is not None
    )
    for _ in range(WRITE_ATTEMPTS):
        created = (await connection.execute(statement, parameters)).first()
        if created is not None:
            break
        await _refuse_create(session, connection, principal, project_id, assignee_id)
    else:
        raise Conflict(CHANGED_MEANWHILE)
    touch(session, projects=[project_id])
    return {
        **values,
        "id": created[0],
        "project": {"id": project_id, "name": created[1]},
        "assignee": None
        if assignee_id is None
        else {"id": assignee_id, "email": created[2], "full_name": created[3]},
        "created_by": _user_summary(principal.user),
    }


async def _refuse_create(
    session: AsyncSession,
    connection: AsyncConnection,
    principal: Principal,
    project_id: int,
    assignee_id: int | None,
) -> None:
    """Raise why a task cannot be created in the project now: not seen (404), read-only
    (403), archived (409), or an assignee that may not be assigned (422). Returns when
    nothing refuses it any more (it changed after the INSERT was refused)."""
    parameters = {**projects_service.viewer(principal), _PROJECT_ID: project_id}
    project = (
        await connection.execute(_new_task_project(admin=principal.is_admin), parameters)
    ).first()
    if project is None:
        raise ProjectNotFound()
    ensure_role_can_write_tasks(ProjectRole(project.role), archived=project.is_archived)
    if assignee_id is not None:
        await _assignable_user(session, project_id, assignee_id)


@dataclass(frozen=True, slots=True)
class TaskForChange:
    """A task the caller may see, as TaskRead shows it (see task_view), with the caller's
    role in its project: what a change is checked against and based on."""

    task: dict[str, Any]
    role: ProjectRole
    project_archived: bool


@functools.cache
def _task_for_change_by_id(*, admin: bool) -> Select[*tuple[Any, ...]]:
    access = projects_service.access_subquery_for(admin=admin)
    return _visible_task_view_by_id(admin=admin).add_columns(
        access.c.role, Project.is_archived.label("project_archived")
    )


async def get_task_for_change(
    *, session: AsyncSession, principal: Principal, task_id: int
) -> TaskForChange:
    """The task a change is based on; 404 when the caller cannot see it. Not locked: the
    change itself matches the version read here (see update_task)."""
    statement = _task_for_change_by_id(admin=principal.is_admin)
    row = await _visible_task_row(
        await statement_connection(session), principal, task_id, statement
    )
    return TaskForChange(
        task=task_view(row), role=ProjectRole(row.role), project_archived=row.project_archived
    )


# The columns a change may set, besides the version and updated_at that every change sets.
_CHANGEABLE = ("title", "description", "priority", "due_date", "assignee_id")


@functools.lru_cache(maxsize=64)
def _update_task_statement(columns: tuple[str, ...]) -> Any:
    """UPDATE of these columns, guarded by the version read: built and compiled once per set
    of columns (SET values are bound as `new_<column>`)."""
    return (
        update(Task)
        .where(
            Task.id == bindparam(_TASK_ID, type_=BigIntId),
            Task.version == bindparam("read_version"),
        )
        .values(
            {
                **{name: _bound(name) for name in columns},
                "version": Task.version + 1,
            }
        )
    )


class TaskChangedMeanwhile(PreconditionFailed):
    """The task changed between the read a change was based on and its UPDATE."""

    def __init__(self) -> None:
        super().__init__(CHANGED_MEANWHILE)


async def change_task(
    *,
    session: AsyncSession,
    principal: Principal,
    task_id: int,
    changes: Mapping[str, Any],
    if_match: str | None,
) -> dict[str, Any]:
    """Read the task and apply the changes (update_task); every change lands unless If-Match
    names another version.

    First without a lock or transaction (the UPDATE matches the version read). If another
    change landed in between, the task is locked in a transaction (its row on PostgreSQL,
    the database's write lock on SQLite) and read again: the change waits for the ones
    before it and then lands, and If-Match is compared with the version found under the
    lock, so of racers naming one version exactly one wins.
    """
    access = await get_task_for_change(session=session, principal=principal, task_id=task_id)
    try:
        return await update_task(session=session, access=access, changes=changes, if_match=if_match)
    except TaskChangedMeanwhile:
        await begin_transaction(session)  # the lock lasts until the request commits
        await lock_rows(session, _LOCK_TASK[RowLock.NO_KEY_UPDATE], {_TASK_ID: task_id})
    access = await get_task_for_change(session=session, principal=principal, task_id=task_id)
    return await update_task(session=session, access=access, changes=changes, if_match=if_match)


async def update_task(
    *,
    session: AsyncSession,
    access: TaskForChange,
    changes: Mapping[str, Any],
    if_match: str | None,
) -> dict[str, Any]:
    """Apply the changes with one UPDATE, guarded by the version `access` read; returns the
    task as it is now (see task_view). 412 when the task changed since it was read."""
    ensure_role_can_write_tasks(access.role, archived=access.project_archived)
    task = access.task
    check_if_match(if_match, task["version"])
    values = {name: changes[name] for name in _CHANGEABLE if name in changes}
    shown: dict[str, Any] = {}
    if values.get("assignee_id"):
        assignee = await _assignable_user(session, task["project"]["id"], values["assignee_id"])
        shown["assignee"] = _user_summary(assignee)
    elif "assignee_id" in values:
        shown["assignee"] = None
    if "is_completed" in changes:
        values.update(_completion(task, completed=changes["is_completed"]))
    values["updated_at"] = clock.now()
    columns = tuple(sorted(values))
    parameters = {f"new_{name}": value for name, value in values.items()}
    parameters |= {_TASK_ID: task["id"], "read_version": task["version"]}
    connection = await statement_connection(session)
    result = await connection.execute(_update_task_statement(columns), parameters)
    if result.rowcount != 1:  # changed or deleted since it was read
        raise TaskChangedMeanwhile()
    touch(session, projects=[task["project"]["id"]])
    values.pop("assignee_id", None)
    return {**task, **values, **shown, "version": task["version"] + 1}


def _completion(task: Mapping[str, Any], *, completed: bool) -> dict[str, Any]:
    """Completing stamps completed_at (kept if it was already complete); reopening clears it."""
    if completed and not task["is_completed"]:
        return {"is_completed": True, "completed_at": clock.now()}
    if completed:
        return {"is_completed": True}
    return {"is_completed": False, "completed_at": None}


async def delete_task(*, session: AsyncSession, access: TaskAccess, if_match: str | None) -> None:
    ensure_can_write_tasks(access.project_access)
    check_if_match(if_match, access.task.version)
    await session.delete(access.task)
    await flush_versioned(session)
    touch(session, projects=[access.task.project_id])


# Before a bulk update reads its tasks (PostgreSQL): the tasks locked against other writes,
# in id order, so two bulk updates cannot deadlock. Their
# projects are not locked: a project delete or a member removal holds the project and then
# waits for its tasks, so a bulk update holding tasks and waiting for the project would
# deadlock with it.
_LOCK_BULK = locked(
    select(Task.id).where(Task.id.in_(bindparam("ids", expanding=True))).order_by(Task.id),
    Task,
    RowLock.NO_KEY_UPDATE,
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
    """Change many tasks in one transaction, all or nothing, in a fixed number of queries."""
    ids = sorted(set(task_ids))
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK_BULK, {"ids": ids})
    access = projects_service.access_subquery(principal)
    rows = (
        await session.execute(
            select(Task.id, Task.project_id, access.c.role, Project.is_archived)
            .join(access, access.c.project_id == Task.project_id)
            .join(Project, Project.id == Task.project_id)
            .where(Task.id.in_(ids)),
            projects_service.viewer(principal),
        )
    ).all()
    missing = set(ids) - {row.id for row in rows}
    if missing:
        raise NotFound(f"Tasks not found: {_ids(missing)}")
    read_only = {row.id for row in rows if not may_write_tasks(ProjectRole(row.role))}
    if read_only:
        raise Forbidden(f"Viewers cannot change tasks: {_ids(read_only)}")
    archived = {row.id for row in rows if row.is_archived}
    if archived:
        raise ProjectArchived(f"Tasks in archived projects cannot change: {_ids(archived)}")

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
    if "is_completed" in changes:
        completed = changes["is_completed"]
        values["is_completed"] = completed
        values["completed_at"] = (
            case((Task.is_completed.is_(True), Task.completed_at), else_=clock.now())
            if completed
            else None
        )
    await session.execute(
        update(Task)
        .where(Task.id.in_(ids))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    touch(session, projects={row.project_id for row in rows})
    return len(ids)


async def _ensure_assignable_everywhere(
    session: AsyncSession, user_id: int, project_of_task: Mapping[int, int]
) -> None:
    project_ids = set(project_of_task.values())
    allowed = set(
        await session.scalars(
            select(Project.id).where(
                Project.id.in_(project_ids),
                _is_participant(Project.id, user_id),
                exists().where(User.id == user_id, User.is_active.is_(True)),
            )
        )
    )
    refused = {
        task_id for task_id, project_id in project_of_task.items() if project_id not in allowed
    }
    if refused:
        raise UnprocessableEntity(
            f"The assignee is not the owner or a member of the project of tasks: {_ids(refused)}",
            loc=("body", "update_data", "assignee_id"),
        )


async def move_task(
    *, session: AsyncSession, principal: Principal, access: TaskAccess, project_id: int
) -> Task:
    """Move to another project (editor on both); an assignee who is not in it is cleared."""
    ensure_can_write_tasks(access.project_access)
    task = access.task
    if project_id == task.project_id:
        return task
    # Locked until the move commits: not deleted, nor its members changed, meanwhile.
    target = await projects_service.get_access(
        session=session, principal=principal, project_id=project_id, lock=RowLock.SHARE
    )
    ensure_can_write_tasks(target)
    if task.assignee_id is not None and not await projects_service.is_participant(
        session=session, project=target.project, user_id=task.assignee_id
    ):
        task.assignee = None
    source_id = task.project_id
    task.project = target.project
    await flush_versioned(session)
    touch(session, projects=[source_id, target.project.id])
    return task
