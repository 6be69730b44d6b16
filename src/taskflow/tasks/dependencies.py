"""Load a task the caller may see (404 otherwise), with the caller's role in its project."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from taskflow.core.db import RowLock
from taskflow.core.deps import SessionDep
from taskflow.core.types import MAX_ID
from taskflow.identity.dependencies import get_principal_from_cache
from taskflow.identity.principal import Principal
from taskflow.tasks import service
from taskflow.tasks.service import TaskAccess

TaskId = Annotated[int, Path(ge=1, le=MAX_ID)]


async def task_access_for_update(
    task_id: TaskId,
    principal: Annotated[Principal, Depends(get_principal_from_cache)],
    session: SessionDep,
) -> TaskAccess:
    """The task, locked until the request commits (PostgreSQL) and read after the lock: a
    delete or move waits for the write before it and sees where it left the task."""
    return await service.read_task_to_write(
        session=session, principal=principal, task_id=task_id, lock=RowLock.UPDATE
    )


LockedTask = Annotated[TaskAccess, Depends(task_access_for_update)]
