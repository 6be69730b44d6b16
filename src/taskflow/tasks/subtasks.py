"""Subtasks: the rules of a task's parent (same project, no cycle, at most MAX_DEPTH
levels), and what a move does to a task's subtree.

Every change of a project's task tree (a new subtask, a new parent, a move) locks the
project's row (FOR NO KEY UPDATE): two of them in one project run one after the other, so
two changes that would together make a cycle or a tree too deep cannot both pass their
checks. Task creates without a parent, changes of other fields and label writes are not
held up by it.

Lock order, tasks before projects as everywhere else (see docs/decisions.md): the task
changed, then the new parent (FOR KEY SHARE, which its foreign key would take anyway),
then the project; a move locks the moved task, then its subtree, then the projects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from taskflow.core.db import BigIntId, RowLock, lock_rows, locked
from taskflow.core.errors import UnprocessableEntity
from taskflow.projects.models import Project
from taskflow.projects.queries import participates
from taskflow.tasks.models import Task

MAX_DEPTH = 5
# Far enough past MAX_DEPTH to see any tree the rules allow, near enough to stop at once.
_WALK_LIMIT = MAX_DEPTH + 2

_LOCK_PROJECT_TREE = locked(
    select(Project.id).where(Project.id == bindparam("project_id", type_=BigIntId)),
    Project,
    RowLock.NO_KEY_UPDATE,
)


_LOCK_PARENT = locked(
    select(Task.id).where(Task.id == bindparam("task_id", type_=BigIntId)),
    Task,
    RowLock.KEY_SHARE,
)
_LOCK_TASKS = locked(
    select(Task.id).where(Task.id.in_(bindparam("ids", expanding=True))).order_by(Task.id),
    Task,
    RowLock.UPDATE,
)


def _ancestry() -> Any:
    """(id, project_id) of the task `start` and of each task above it."""
    chain = (
        select(Task.id, Task.parent_id, Task.project_id, literal(1).label("level"))
        .where(Task.id == bindparam("start", type_=BigIntId))
        .cte("chain", recursive=True)
    )
    chain = chain.union_all(
        select(Task.id, Task.parent_id, Task.project_id, chain.c.level + 1).where(
            Task.id == chain.c.parent_id, chain.c.level < _WALK_LIMIT
        )
    )
    return select(chain.c.id, chain.c.project_id, chain.c.level).order_by(chain.c.level)


def _subtree() -> Any:
    """(id, level) of the task `start` (level 1) and of every task below it."""
    tree = (
        select(Task.id, literal(1).label("level"))
        .where(Task.id == bindparam("start", type_=BigIntId))
        .cte("tree", recursive=True)
    )
    tree = tree.union_all(
        select(Task.id, tree.c.level + 1).where(
            Task.parent_id == tree.c.id, tree.c.level < _WALK_LIMIT
        )
    )
    return select(tree.c.id, tree.c.level)


ANCESTRY = _ancestry()
SUBTREE = _subtree()
_SUBTREE_HEIGHT = select(func.max(SUBTREE.subquery().c.level))


def _refused(detail: str) -> UnprocessableEntity:
    return UnprocessableEntity(detail, loc=("body", "parent_id"))


async def lock_tree(session: AsyncSession, project_id: int, parent_id: int | None = None) -> None:
    """Hold the project's task tree until the request commits, and the new parent, if any,
    against a delete or a move meanwhile (see the module's docstring)."""
    if parent_id is not None:
        await lock_rows(session, _LOCK_PARENT, {"task_id": parent_id})
    await lock_rows(session, _LOCK_PROJECT_TREE, {"project_id": project_id})


async def check_parent(
    connection: AsyncConnection, *, project_id: int, parent_id: int, task_id: int | None
) -> None:
    """422 (loc parent_id) unless the task (None: a new one) may sit under the parent: a
    task of the same project (one the caller cannot see is just "not a task of this
    project"), not the task itself nor one of its subtasks, and no deeper than MAX_DEPTH
    levels with the task's own subtasks. Run it with the tree locked (lock_tree)."""
    if parent_id == task_id:
        raise _refused("A task cannot be its own parent")
    chain = (await connection.execute(ANCESTRY, {"start": parent_id})).all()
    if not chain or chain[0].project_id != project_id:
        raise _refused("The parent must be a task of the same project")
    if task_id is not None and task_id in {row.id for row in chain}:
        raise _refused("The parent is a subtask of this task: that would make a cycle")
    height = 1
    if task_id is not None:
        height = int(await connection.scalar(_SUBTREE_HEIGHT, {"start": task_id}) or 1)
    if len(chain) + height > MAX_DEPTH:
        raise _refused(f"Subtasks nest at most {MAX_DEPTH} levels deep")


async def subtasks_of(connection: AsyncConnection, task_id: int) -> list[int]:
    """The ids of every task below the task, at every level."""
    rows = await connection.execute(SUBTREE, {"start": task_id})
    return [row.id for row in rows if row.id != task_id]


_TITLES = (
    select(Task.id, Task.title)
    .where(Task.id.in_(bindparam("ids", expanding=True)))
    .order_by(Task.id)
)


async def titles_of(connection: AsyncConnection, task_ids: Sequence[int]) -> list[tuple[int, str]]:
    """(id, title) of these tasks, by id."""
    if not task_ids:
        return []
    rows = await connection.execute(_TITLES, {"ids": list(task_ids)})
    return [(row.id, row.title) for row in rows]


async def lock_subtree(session: AsyncSession, task_id: int, project_id: int) -> list[int]:
    """Lock the task's subtasks (in id order), then the project's tree; returns the ids of
    the subtasks as they are once both are held (the tree may have changed while waiting:
    what joined it since was written by a request that has committed)."""
    connection = await session.connection()
    below = await subtasks_of(connection, task_id)
    if below:
        await lock_rows(session, _LOCK_TASKS, {"ids": below})
    await lock_tree(session, project_id)
    now_below = await subtasks_of(connection, task_id)
    joined = sorted(set(now_below) - set(below))
    if joined:
        await lock_rows(session, _LOCK_TASKS, {"ids": joined})
    return now_below


_IDS: Any = bindparam("ids", expanding=True)
_TARGET = bindparam("project_id", type_=BigIntId)
# Subtasks moving with their task: to the project, each a new version, and an assignee who
# is not the owner or a member there cleared (as the moved task's own, see service).
_MOVE_SUBTASKS = (
    update(Task)
    .where(Task.id.in_(_IDS))
    .values(
        project_id=_TARGET,
        version=Task.version + 1,
        updated_at=bindparam("now", type_=Task.updated_at.type),
        assignee_id=case((participates(_TARGET, Task.assignee_id), Task.assignee_id), else_=None),
    )
)


async def move_subtasks(
    connection: AsyncConnection, *, subtask_ids: Sequence[int], project_id: int, now: datetime
) -> None:
    """Move these subtasks of a moved task to its new project."""
    if subtask_ids:
        parameters = {"ids": list(subtask_ids), "project_id": project_id, "now": now}
        await connection.execute(_MOVE_SUBTASKS, parameters)
