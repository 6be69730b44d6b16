"""Comment statement builders. Every statement that reads or writes comments for a caller
is built on the tasks' one visibility query (`tasks.queries.visible_tasks`): a caller sees
the comments of the tasks it sees and nothing else. Each is built once per shape and kept."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Select, bindparam, delete, insert, select, update

from taskflow.comments.models import Comment
from taskflow.core.db import BigIntId, RowLock, locked
from taskflow.core.pagination import after_cursor
from taskflow.projects.models import Project
from taskflow.tasks.models import Task
from taskflow.tasks.queries import TASK_ID, visible_tasks
from taskflow.users.models import User

# The bound parameters statements find one comment by, and the version a change read.
COMMENT_ID = "comment_id"
READ_VERSION = "read_version"

# What a comment is shown with, in the order `views.comment_view` unpacks them.
VIEW_COLUMNS = (
    Comment.id,
    Comment.task_id,
    Comment.author_id,
    User.email.label("author_email"),
    User.full_name.label("author_full_name"),
    Comment.body,
    Comment.created_at,
    Comment.updated_at,
    Comment.version,
)


@functools.cache
def task_to_comment_on(*, admin: bool) -> Select[*tuple[Any, ...]]:
    """The visible task `TASK_ID` with the caller's role in its project, the project, whether
    it is archived and the task's comment count; no row when the caller cannot see it."""
    return (
        visible_tasks(admin=admin)
        .add_columns(Task.project_id, Project.is_archived, Task.comment_count)
        .join(Project, Project.id == Task.project_id)
        .where(Task.id == bindparam(TASK_ID, type_=BigIntId))
    )


def _visible_comments(admin: bool) -> Select[*tuple[Any, ...]]:
    """The view's columns of the comments of the tasks the caller sees, with the caller's
    role in the task's project and that project's id."""
    visible = visible_tasks(admin=admin).add_columns(Task.project_id).subquery("visible_tasks")
    return (
        select(*VIEW_COLUMNS, visible.c.role, visible.c.project_id)
        .select_from(Comment)
        .join(visible, visible.c.id == Comment.task_id)
        .outerjoin(User, User.id == Comment.author_id)
    )


@functools.cache
def visible_comment(*, admin: bool) -> Select[*tuple[Any, ...]]:
    """The visible comment `COMMENT_ID` (view columns, role, project id) and whether its
    project is archived; no row when the caller cannot see its task."""
    query = _visible_comments(admin)
    project_id = query.selected_columns.project_id
    return (
        query.add_columns(Project.is_archived)
        .join(Project, Project.id == project_id)
        .where(Comment.id == bindparam(COMMENT_ID, type_=BigIntId))
    )


@functools.cache
def comment_page(*, admin: bool, after: bool) -> Select[*tuple[Any, ...]]:
    """A page of the visible task `TASK_ID`'s comments, oldest first: from `skip`, or
    (`after`) after the cursor's (created_at, id). Read from the (task_id, created_at, id)
    index."""
    conditions = [Comment.task_id == bindparam(TASK_ID, type_=BigIntId)]
    if after:
        conditions.append(
            after_cursor(
                Comment.created_at,
                Comment.id,
                descending=False,
                value=bindparam("after_value", type_=Comment.created_at.type),
                last_id=bindparam("after_id", type_=BigIntId),
            )
        )
    return (
        _visible_comments(admin)
        .where(*conditions)
        .order_by(Comment.created_at, Comment.id)
        .offset(bindparam("skip", type_=BigIntId))
        .limit(bindparam("rows", type_=BigIntId))
    )


# --- writes ----------------------------------------------------------------------------

# The task a comment is on, whoever may see it, its row locked (PostgreSQL) before a delete
# reads the comment: the task row first, then its comments, as a post and a task's delete
# lock them. One statement, so that on SQLite it is the transaction's first (lock_rows).
LOCK_TASK_OF_COMMENT = locked(
    select(Task.id).where(
        Task.id
        == select(Comment.task_id)
        .where(Comment.id == bindparam(COMMENT_ID, type_=BigIntId))
        .scalar_subquery()
    ),
    Task,
    RowLock.NO_KEY_UPDATE,
)

# The comment row alone, locked (PostgreSQL) before an edit reads it.
LOCK_COMMENT = locked(
    select(Comment.id).where(Comment.id == bindparam(COMMENT_ID, type_=BigIntId)),
    Comment,
    RowLock.NO_KEY_UPDATE,
)

INSERT_COMMENT = insert(Comment).returning(Comment.id)


def _count_by(step: int) -> Any:
    """tasks.comment_count moved by `step` in one statement (atomic under concurrent
    writes); updated_at is kept, and the version too: a task's ETag is of its own fields."""
    return (
        update(Task)
        .where(Task.id == bindparam(TASK_ID, type_=BigIntId))
        .values(comment_count=Task.comment_count + step, updated_at=Task.updated_at)
    )


COUNT_ONE_MORE = _count_by(1)
COUNT_ONE_LESS = _count_by(-1)

UPDATE_COMMENT_IF_UNCHANGED = (
    update(Comment)
    .where(
        Comment.id == bindparam(COMMENT_ID, type_=BigIntId),
        Comment.version == bindparam(READ_VERSION),
    )
    .values(
        body=bindparam("new_body"),
        updated_at=bindparam("new_updated_at", type_=Comment.updated_at.type),
        version=Comment.version + 1,
    )
)

DELETE_COMMENT = delete(Comment).where(Comment.id == bindparam(COMMENT_ID, type_=BigIntId))
