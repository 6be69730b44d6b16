"""Status statement builders. A caller reaches statuses only through a project it sees
(projects.service.get_access), so they need no visibility query of their own: every
statement here is bound to a project id that was checked first."""

from __future__ import annotations

from sqlalchemy import Update, bindparam, case, func, select, update

from taskflow.core.db import BigIntId, RowLock, locked
from taskflow.statuses.models import Status, StatusCategory
from taskflow.tasks.models import Task

PROJECT_ID = "project_id"
STATUS_ID = "of_status_id"  # not a column name: UPDATE tasks binds it too
_PROJECT = bindparam(PROJECT_ID, type_=BigIntId)
_STATUS = bindparam(STATUS_ID, type_=BigIntId)

# The project's statuses in board order.
PROJECT_STATUSES = (
    select(Status).where(Status.project_id == _PROJECT).order_by(Status.position, Status.id)
)

# The status row, locked against tasks being written into it (their foreign key check).
LOCK_STATUS = locked(select(Status.id).where(Status.id == _STATUS), Status, RowLock.UPDATE)

# The tasks of a status in their order (for moving them all to another status).
TASK_IDS_IN_ORDER = (
    select(Task.id).where(Task.status_id == _STATUS).order_by(Task.position, Task.id)
)

# The last rank key of a status (None when it holds no task).
LAST_KEY = select(func.max(Task.position)).where(Task.status_id == _STATUS)

# Moving a task of a deleted status to another one, at a given key (executemany).
MOVE_TASK_TO_STATUS = (
    update(Task)
    .where(Task.id == bindparam("b_id", type_=BigIntId))
    .values(
        status_id=bindparam("b_status_id", type_=BigIntId),
        position=bindparam("b_position"),
        version=Task.version + 1,  # the task's own fields changed: its ETag too
    )
)


def tasks_follow_category(*, done: bool) -> Update:
    """UPDATE of every task in status `STATUS_ID` whose completion differs from `done`:
    is_completed follows, completed_at is stamped (`now`) on entering done and cleared on
    leaving it, and the version moves on (the task's own fields changed)."""
    now = bindparam("now", type_=Task.completed_at.type)
    return (
        update(Task)
        .where(Task.status_id == _STATUS, Task.is_completed.is_not(done))
        .values(
            is_completed=done,
            completed_at=case((Task.is_completed.is_(True), Task.completed_at), else_=now)
            if done
            else None,
            version=Task.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def is_done(category: str) -> bool:
    return category == StatusCategory.DONE
