"""Recording activity: every write calls `record` (or `record_many`) in its own unit of
work, so an event exists exactly when its change committed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.activity.models import ActivityEvent
from taskflow.core import clock
from taskflow.core.context import current_request

Changes = dict[str, list[Any]]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> Changes:
    """`{field: [old, new]}` for each field of `after` whose value differs from `before`'s,
    in JSON's terms (times as ISO 8601). Callers pass only fields a reader may see."""
    return {
        name: [_json_value(before.get(name)), _json_value(new)]
        for name, new in after.items()
        if before.get(name) != new
    }


def event_row(
    *,
    type: str,
    actor_id: int | None,
    project_id: int,
    task_id: int | None = None,
    changes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One event's columns, stamped with the current request's id and the clock."""
    request = current_request.get()
    return {
        "type": type,
        "actor_id": actor_id,
        "project_id": project_id,
        "task_id": task_id,
        "at": clock.now(),
        "changes": dict(changes or {}),
        "request_id": None if request is None else request.request_id,
    }


async def record_many(session: AsyncSession, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write these events (built by `event_row`) in the session's transaction."""
    batch = list(rows)
    if batch:
        await session.execute(insert(ActivityEvent), batch)


async def record(
    session: AsyncSession,
    *,
    type: str,
    actor_id: int | None,
    project_id: int,
    task_id: int | None = None,
    changes: Mapping[str, Any] | None = None,
) -> None:
    """Write one event in the session's transaction: it commits or rolls back with the
    change it describes."""
    await record_many(
        session,
        [
            event_row(
                type=type,
                actor_id=actor_id,
                project_id=project_id,
                task_id=task_id,
                changes=changes,
            )
        ],
    )
