"""Task statement builders. Every statement that reads or writes tasks for a caller starts
from `visible_tasks`, the tasks domain's one visibility query; each is built once per shape
and kept (functools.cache), so SQLAlchemy compiles it once and a request only binds values.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, insert, or_, select, true, update
from sqlalchemy.orm import aliased

from taskflow.activity.queries import insert_event_for
from taskflow.core.db import BigIntId, RowLock, locked
from taskflow.core.pagination import after_cursor, sort_clauses
from taskflow.labels.queries import carried_labels_code
from taskflow.projects import service as projects_service
from taskflow.projects.models import Project
from taskflow.projects.policy import ProjectRole, may_write_tasks
from taskflow.projects.queries import assignable, participates
from taskflow.statuses.models import Status
from taskflow.tasks.filters import BOARD_KEY, TASK_SORT_COLUMNS, filter_conditions
from taskflow.tasks.models import Task
from taskflow.users.models import User

# The bound parameters statements find one task or one project by.
TASK_ID = "task_id"
PROJECT_ID = "project_id"


@functools.cache
def visible_tasks(*, admin: bool) -> Select[int, str]:
    """(id, role) of every task the caller may see, with the caller's role in the task's
    project: the one visibility rule of tasks, built on the projects' own
    (`projects.service.access_subquery_for`). Execute what is built on it with
    `projects.service.viewer(principal)`: without that parameter it fails, it never shows
    anything.

    Build on it rather than next to it: `.where()` narrows it, `.with_only_columns()` and
    `.add_columns()` choose what is read, `.join()` reaches what a task refers to (its FROM
    starts at `tasks`). A domain hanging off tasks (comments, attachments) joins to it as a
    subquery, so a caller sees what belongs to the tasks it sees and nothing else:

        visible = visible_tasks(admin=principal.is_admin).subquery()
        select(Comment).join(visible, visible.c.id == Comment.task_id)
    """
    access = projects_service.access_subquery_for(admin=admin)
    return (
        select(Task.id, access.c.role)
        .select_from(Task)
        .join(access, access.c.project_id == Task.project_id)
    )


# What a task is shown with, read as columns (no ORM objects on the read paths), in the
# order `views.task_view` unpacks them.
_ASSIGNEE = aliased(User, name="assignee")
_CREATOR = aliased(User, name="creator")
# Subtask counts, per row from the parent_id index: no query of their own.
_CHILD = aliased(Task, name="child")
_SUBTASKS = select(func.count()).select_from(_CHILD).where(_CHILD.parent_id == Task.id)
VIEW_COLUMNS = (
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
    Task.comment_count,
    Task.parent_id,
    _SUBTASKS.correlate(Task).scalar_subquery().label("subtask_total"),
    _SUBTASKS.where(_CHILD.is_completed.is_(True))
    .correlate(Task)
    .scalar_subquery()
    .label("subtask_done"),
    Task.status_id,
    Status.name.label("status_name"),
    Status.category.label("status_category"),
    Task.position,
    # The labels it carries, as one string (labels.service.decode_labels): no query of
    # their own, whatever the number of tasks read.
    carried_labels_code(Task.id).label("label_codes"),
)
VIEW_COLUMN_NAMES = tuple(column.key for column in VIEW_COLUMNS)


def with_view_columns(query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    """`query` (FROM tasks ...) reading the view's columns, joined to what they come from."""
    return (
        query.with_only_columns(*VIEW_COLUMNS)
        .join(Project, Project.id == Task.project_id)
        .join(_CREATOR, _CREATOR.id == Task.created_by_id)
        .outerjoin(_ASSIGNEE, _ASSIGNEE.id == Task.assignee_id)
        .join(Status, Status.id == Task.status_id)
    )


# The view's columns of the tasks among `ids`, whoever may see them: a bulk change reads
# them after it writes (having checked the caller's access), for its events.
TASK_VIEWS_BY_IDS = with_view_columns(select(Task.id).select_from(Task)).where(
    Task.id.in_(bindparam("ids", expanding=True))
)


@functools.cache
def visible_task_view(*, admin: bool) -> Select[*tuple[Any, ...]]:
    """The view's columns of the visible task with id `TASK_ID`; no row when unseen."""
    by_id = visible_tasks(admin=admin).where(Task.id == bindparam(TASK_ID, type_=BigIntId))
    return with_view_columns(by_id)


@functools.cache
def visible_task_to_write(*, admin: bool) -> Select[*tuple[Any, ...]]:
    """visible_task_view, then the caller's role and whether the project is archived: what
    a change, a delete or a move is checked against."""
    role = visible_tasks(admin=admin).selected_columns.role
    return visible_task_view(admin=admin).add_columns(
        role, Project.is_archived.label("project_archived")
    )


# The project a task is in, whoever may see it: cache bookkeeping only, never an answer.
PROJECT_OF_TASK = select(Task.project_id).where(Task.id == bindparam(TASK_ID, type_=BigIntId))

# The task row alone, locked (PostgreSQL) before a write reads it: a statement that joins
# other tables and waits for the lock would recheck the new row against the joined rows it
# read before (a moved task would vanish from it), so what to write is read after it.
LOCK_TASK = {
    lock: locked(select(Task.id).where(Task.id == bindparam(TASK_ID, type_=BigIntId)), Task, lock)
    for lock in (RowLock.UPDATE, RowLock.NO_KEY_UPDATE)
}

# How the list's page starts: at an offset, after a cursor, or after a cursor whose sort
# value is empty (NULL), which needs a WHERE of its own.
FROM_OFFSET, AFTER_VALUE, AFTER_EMPTY = "offset", "after", "after-empty"


@functools.lru_cache(maxsize=512)
def task_list_statements(
    *, admin: bool, filters: tuple[Any, ...], sort: str, start: str, per_project: bool = False
) -> tuple[Select[*tuple[Any, ...]], Select[int]]:
    """The page and count statements of a task list of this shape, built and compiled once:
    every value (caller, filters, cursor, offset, limit) is a bound parameter.

    `per_project` (PostgreSQL, by creation time): the page is merged from the first rows of
    each visible project, each read in order from the (project_id, created_at, id) index,
    so a page reads a few rows per project instead of sorting every visible task.
    """
    column = TASK_SORT_COLUMNS[sort.removeprefix("-")]
    order: list[Any] = sort_clauses(sort, TASK_SORT_COLUMNS, Task.id)
    conditions = filter_conditions(filters)
    matching = visible_tasks(admin=admin).where(*conditions)
    by_board = sort.removeprefix("-") == "position"
    if by_board:  # board order reads the status's place
        matching = matching.join(Status, Status.id == Task.status_id)
    after = []
    if start != FROM_OFFSET:
        after.append(
            after_cursor(
                column,
                Task.id,
                descending=sort.startswith("-"),
                value=None if start == AFTER_EMPTY else bindparam("after_value", type_=column.type),
                last_id=bindparam("after_id", type_=BigIntId),
            )
        )
    # BIGINT: the per-project limit, skip + rows, passes 2**31 - 1 when skip is near its maximum.
    skip, rows = bindparam("skip", type_=BigIntId), bindparam("rows", type_=BigIntId)
    # The page is chosen on the tasks alone, then only its rows are joined to their project
    # and people: joining first would join every matching task before the sort.
    if per_project:
        chosen = _chosen_per_project(admin, [*conditions, *after], sort, skip, rows)
    else:
        chosen = matching.where(*after).order_by(*order).offset(skip).limit(rows).subquery("chosen")
    count = select(func.count()).select_from(matching.subquery())
    if by_board:
        chosen = matching.with_only_columns(Task.id, BOARD_KEY).where(*after).order_by(*order)
        chosen = chosen.offset(skip).limit(rows).subquery("chosen")
        order = [chosen.c.board_key, chosen.c.id]
    # The total rides along with the page (computed once, as an uncorrelated subquery):
    # one round trip for both. An empty page carries none, so it asks `count`.
    page = (
        with_view_columns(select(Task.id).select_from(Task))
        .add_columns(count.scalar_subquery().label("total"))
        .join(chosen, chosen.c.id == Task.id)
        .order_by(*order)
    )
    if by_board:  # the cursor's value
        page = page.add_columns(chosen.c.board_key)
    return page, count


def _chosen_per_project(admin: bool, conditions: list[Any], sort: str, skip: Any, rows: Any) -> Any:
    """The ids of the page: the first skip + rows tasks of each project in the creation
    order (created_at is never empty, so the index's order is the list's), merged.

    It walks the visible projects (the rule visible_tasks is built on) one by one, so that
    each project's tasks are read from its index; it sees exactly the visible tasks."""
    access = projects_service.access_subquery_for(admin=admin)
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


# --- writes ----------------------------------------------------------------------------


def new_value(column: str) -> Any:
    """The bound parameter of a value written to a task column: `new_<column>`."""
    return bindparam(f"new_{column}", type_=Task.__table__.c[column].type)


@functools.cache
def project_to_create_in(*, admin: bool) -> Select[*tuple[Any, ...]]:
    """The project a task is to be created in, as the caller sees it: whether it is archived
    and the caller's role; no row when the caller cannot see it."""
    access = projects_service.access_subquery_for(admin=admin)
    return (
        select(Project.is_archived, access.c.role)
        .join(access, access.c.project_id == Project.id)
        .where(Project.id == bindparam(PROJECT_ID, type_=BigIntId))
    )


# The columns a create sets, each from its `new_value` parameter (the project's id comes
# from the SELECT that checks it, the task's id from its sequence).
CREATED_COLUMNS = tuple(
    column.name for column in Task.__table__.columns if column.name not in ("id", "project_id")
)
_WRITING_ROLES = tuple(role.value for role in ProjectRole if may_write_tasks(role))


@functools.cache
def insert_task_if_allowed(*, admin: bool, with_assignee: bool) -> Any:
    """INSERT of a task, from a SELECT that finds its project only where the caller may
    write tasks (seen, a writing role, not archived) and, `with_assignee`, the assignee
    may be assigned: no row is written otherwise. Returns the id and the names the answer
    shows (project name, then the assignee's email and full name)."""
    access = projects_service.access_subquery_for(admin=admin)
    project_id = bindparam(PROJECT_ID, type_=BigIntId)
    conditions = [
        Project.id == project_id,
        Project.is_archived.is_(False),
        # One comparison per role, bound like any value (IN would be expanded per execution).
        or_(*(access.c.role == role for role in _WRITING_ROLES)),
    ]
    # What the answer shows besides the values written, read by the ids the request gave.
    shown = [select(Project.name).where(Project.id == project_id).scalar_subquery()]
    if with_assignee:
        assignee_id = new_value("assignee_id")
        conditions.append(assignable(project_id, assignee_id))
        assignee = select(User).where(User.id == assignee_id)
        shown += [
            assignee.with_only_columns(User.email).scalar_subquery(),
            assignee.with_only_columns(User.full_name).scalar_subquery(),
        ]
    source = locked(
        select(Project.id, *(new_value(column) for column in CREATED_COLUMNS))
        .join(access, access.c.project_id == Project.id)
        .where(*conditions),
        Project,
        # The project cannot be deleted meanwhile, nor (with an assignee) its members change.
        RowLock.SHARE if with_assignee else RowLock.KEY_SHARE,
    )
    return (
        insert(Task)
        .from_select(["project_id", *CREATED_COLUMNS], source)
        .returning(Task.id, *shown)
    )


@functools.cache
def insert_task_if_allowed_logged(*, admin: bool, with_assignee: bool) -> Any:
    """insert_task_if_allowed and the insert of its event (`activity.queries.event_parameters`)
    as one statement (PostgreSQL: data-modifying CTEs), answering what the insert returns."""
    created = insert_task_if_allowed(admin=admin, with_assignee=with_assignee).cte("created")
    logged = insert_event_for(created.c.id).cte("logged")
    return select(*created.c).add_cte(logged)


# The assignee's email and full name when the user may be assigned a task in the project
# (`projects.queries.assignable`); no row otherwise.
_GIVEN_PROJECT = bindparam(PROJECT_ID, type_=BigIntId)
_GIVEN_ASSIGNEE = bindparam("assignee_id", type_=BigIntId)
ASSIGNEE_IF_ASSIGNABLE = select(User.email, User.full_name).where(
    User.id == _GIVEN_ASSIGNEE, assignable(_GIVEN_PROJECT, _GIVEN_ASSIGNEE)
)

# Whether the assignee owns the project or is one of its members (a moved task keeps it).
ASSIGNEE_BELONGS = select(participates(_GIVEN_PROJECT, _GIVEN_ASSIGNEE))

# The version a write was based on: it lands only if the task still has it.
READ_VERSION = "read_version"
_UNCHANGED = (
    Task.id == bindparam(TASK_ID, type_=BigIntId),
    Task.version == bindparam(READ_VERSION),
)


@functools.lru_cache(maxsize=64)
def update_task_if_unchanged(columns: tuple[str, ...]) -> Any:
    """UPDATE of these columns (and the version), guarded by the version read: built and
    compiled once per set of columns (SET values are bound as `new_<column>`)."""
    return (
        update(Task)
        .where(*_UNCHANGED)
        .values({**{name: new_value(name) for name in columns}, "version": Task.version + 1})
    )


@functools.lru_cache(maxsize=64)
def update_task_if_unchanged_logged(columns: tuple[str, ...]) -> Any:
    """update_task_if_unchanged and the insert of its event as one statement (PostgreSQL:
    a data-modifying CTE): the event is inserted exactly when the task row is updated, so
    the statement's row count is the UPDATE's."""
    written = update_task_if_unchanged(columns).returning(Task.id).cte("written")
    return insert_event_for(written.c.id)


DELETE_TASK_IF_UNCHANGED = delete(Task).where(*_UNCHANGED)
