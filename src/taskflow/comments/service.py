"""Comment use cases: post, list, read, edit and delete the comments of a task. Every
statement is built in `queries` on the tasks' visibility query, and every comment is
answered as the one view of `views`.

A post or a delete moves tasks.comment_count in the same transaction, by one atomic
UPDATE on the task row, which is locked first: the task row, then its comments, is the
order every write here (and a task's delete) locks them in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from taskflow.activity import service as activity
from taskflow.comments import queries
from taskflow.comments.models import Comment
from taskflow.comments.policy import ensure_can_comment, ensure_can_delete, ensure_can_edit
from taskflow.comments.queries import COMMENT_ID, READ_VERSION
from taskflow.comments.views import CommentView, comment_view
from taskflow.core import clock
from taskflow.core.cache import touch
from taskflow.core.db import RowLock, lock_rows
from taskflow.core.errors import NotFound, PreconditionFailed
from taskflow.core.etag import CHANGED_MEANWHILE, check_if_match
from taskflow.core.pagination import Cursor, InvalidCursor, KeysetPage, decode_cursor
from taskflow.identity.principal import Principal
from taskflow.projects import service as projects_service
from taskflow.projects.policy import ProjectRole
from taskflow.tasks.queries import LOCK_TASK, TASK_ID
from taskflow.tasks.service import TaskNotFound

# The list's one order: oldest first (its cursors name it).
ORDER = "created_at"


class CommentNotFound(NotFound):
    detail = "Comment not found"


@dataclass(frozen=True, slots=True)
class TaskToCommentOn:
    """A task the caller sees: its project, the caller's role there, whether the project is
    archived, and how many comments the task has."""

    task_id: int
    project_id: int
    role: ProjectRole
    project_archived: bool
    comment_count: int


@dataclass(frozen=True, slots=True)
class CommentAccess:
    """A comment the caller sees, with what a change of it is checked against."""

    comment: CommentView
    project_id: int
    role: ProjectRole
    project_archived: bool

    def is_author(self, principal: Principal) -> bool:
        author = self.comment["author"]
        return author is not None and author["id"] == principal.user.id


@dataclass(frozen=True, slots=True)
class CommentPage:
    comments: list[CommentView]
    total: int
    next_cursor: Cursor | None


async def _task_to_comment_on(
    connection: AsyncConnection, principal: Principal, task_id: int
) -> TaskToCommentOn:
    parameters = {**projects_service.viewer(principal), TASK_ID: task_id}
    statement = queries.task_to_comment_on(admin=principal.is_admin)
    row = (await connection.execute(statement, parameters)).first()
    if row is None:
        raise TaskNotFound()
    return TaskToCommentOn(
        task_id=task_id,
        project_id=row.project_id,
        role=ProjectRole(row.role),
        project_archived=row.is_archived,
        comment_count=row.comment_count,
    )


async def _comment_access(
    connection: AsyncConnection, principal: Principal, comment_id: int
) -> CommentAccess:
    parameters = {**projects_service.viewer(principal), COMMENT_ID: comment_id}
    statement = queries.visible_comment(admin=principal.is_admin)
    row: Row[Any] | None = (await connection.execute(statement, parameters)).first()
    if row is None:
        raise CommentNotFound()
    return CommentAccess(
        comment=comment_view(row),
        project_id=row.project_id,
        role=ProjectRole(row.role),
        project_archived=row.is_archived,
    )


async def list_comments(
    *, session: AsyncSession, principal: Principal, task_id: int, page: KeysetPage
) -> CommentPage:
    """One page of the task's comments, oldest first, their number, and where the next page
    starts (None on the last); 404 when the caller cannot see the task."""
    connection = await session.connection()
    task = await _task_to_comment_on(connection, principal, task_id)
    parameters: dict[str, Any] = {
        **projects_service.viewer(principal),
        TASK_ID: task_id,
        "skip": page.skip,
        "rows": page.limit + 1,  # one more says whether a next page exists
    }
    if page.cursor is not None:
        cursor = decode_cursor(page.cursor, sort=ORDER, column=Comment.created_at)
        if cursor.value is None:
            raise InvalidCursor()
        parameters |= {"after_value": cursor.value, "after_id": cursor.last_id}
    statement = queries.comment_page(admin=principal.is_admin, after=page.cursor is not None)
    rows = list(await connection.execute(statement, parameters))
    next_cursor = None
    if len(rows) > page.limit:
        del rows[page.limit :]
        last = rows[-1]
        next_cursor = Cursor(sort=ORDER, value=last.created_at, last_id=last.id)
    return CommentPage(
        comments=[comment_view(row) for row in rows],
        total=task.comment_count,
        next_cursor=next_cursor,
    )


async def read_comment(
    *, session: AsyncSession, principal: Principal, comment_id: int
) -> CommentView:
    """The comment; 404 when the caller cannot see its task."""
    connection = await session.connection()
    return (await _comment_access(connection, principal, comment_id)).comment


async def create_comment(
    *, session: AsyncSession, principal: Principal, task_id: int, body: str
) -> CommentView:
    """Post a comment on the task (owners, administrators and editors; 403 for viewers,
    409 in an archived project, 404 when the caller cannot see the task)."""
    await lock_rows(session, LOCK_TASK[RowLock.NO_KEY_UPDATE], {TASK_ID: task_id})
    connection = await session.connection()
    task = await _task_to_comment_on(connection, principal, task_id)
    ensure_can_comment(task.role, archived=task.project_archived)
    now = clock.now()
    user = principal.user
    values = {
        "task_id": task_id,
        "author_id": user.id,
        "body": body,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    comment_id = await connection.scalar(queries.INSERT_COMMENT, values)
    await connection.execute(queries.COUNT_ONE_MORE, {TASK_ID: task_id})
    await activity.record(
        session,
        type="comment.created",
        actor_id=user.id,
        project_id=task.project_id,
        task_id=task_id,
        changes={"id": [None, comment_id], "body": [None, body]},
    )
    touch(session, projects=[task.project_id])
    return comment_view(
        (comment_id, task_id, user.id, user.email, user.full_name, body, now, now, 1)
    )


async def update_comment(
    *,
    session: AsyncSession,
    principal: Principal,
    comment_id: int,
    body: str,
    if_match: str | None,
) -> CommentView:
    """Change the comment's body (its author only; 403 for anyone else who sees it, 409 in
    an archived project, 412 when If-Match names another version). The same body again
    changes nothing."""
    await lock_rows(session, queries.LOCK_COMMENT, {COMMENT_ID: comment_id})
    connection = await session.connection()
    access = await _comment_access(connection, principal, comment_id)
    ensure_can_edit(
        access.role, is_author=access.is_author(principal), archived=access.project_archived
    )
    comment = access.comment
    check_if_match(if_match, comment["version"])
    if body == comment["body"]:
        return comment  # nothing changes: not edited, no new version, no event
    now = clock.now()
    parameters = {
        COMMENT_ID: comment_id,
        READ_VERSION: comment["version"],
        "new_body": body,
        "new_updated_at": now,
    }
    result = await connection.execute(queries.UPDATE_COMMENT_IF_UNCHANGED, parameters)
    if result.rowcount != 1:  # under the lock only a bug could make this happen
        raise PreconditionFailed(CHANGED_MEANWHILE)
    await activity.record(
        session,
        type="comment.updated",
        actor_id=principal.user.id,
        project_id=access.project_id,
        task_id=comment["task_id"],
        changes=activity.changes_between({"body": comment["body"]}, {"body": body}),
    )
    touch(session, projects=[access.project_id])
    version = comment["version"] + 1
    return {**comment, "body": body, "updated_at": now, "version": version, "edited": True}


async def delete_comment(
    *, session: AsyncSession, principal: Principal, comment_id: int, if_match: str | None
) -> None:
    """Delete the comment (its author, the project's owner or an administrator; 403 for
    anyone else who sees it, 409 in an archived project, 412 when If-Match is stale)."""
    locked = await lock_rows(session, queries.LOCK_TASK_OF_COMMENT, {COMMENT_ID: comment_id})
    if locked.first() is None:
        raise CommentNotFound()
    connection = await session.connection()
    access = await _comment_access(connection, principal, comment_id)
    task_id = access.comment["task_id"]
    ensure_can_delete(
        access.role, is_author=access.is_author(principal), archived=access.project_archived
    )
    comment = access.comment
    check_if_match(if_match, comment["version"])
    result = await connection.execute(queries.DELETE_COMMENT, {COMMENT_ID: comment_id})
    if result.rowcount != 1:  # under the task's lock only a bug could make this happen
        raise CommentNotFound()
    await connection.execute(queries.COUNT_ONE_LESS, {TASK_ID: task_id})
    await activity.record(
        session,
        type="comment.deleted",
        actor_id=principal.user.id,
        project_id=access.project_id,
        task_id=task_id,
        changes={"id": [comment_id, None], "body": [comment["body"], None]},
    )
    touch(session, projects=[access.project_id])
