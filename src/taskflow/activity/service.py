"""Recording activity: every write calls `record` (or `record_many`) in its own unit of
work, so an event exists exactly when its change committed. Reading it: `list_events`, one
project's or one task's history, for a caller the owning domain has let see it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, TypeGuard

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.activity import queries
from taskflow.activity.models import ActivityEvent
from taskflow.activity.schemas import ActivityQuery, ActivityRead
from taskflow.core import clock
from taskflow.core.context import current_request
from taskflow.core.pagination import Cursor, KeysetPage, decode_cursor
from taskflow.users.schemas import UserSummary

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


# Fields of a task's view that no change names: who and when it was made, its version and
# stamp (every write moves them), and counts that other things' writes move.
_NOT_CHANGES = frozenset(
    {"id", "version", "created_at", "updated_at", "created_by", "comment_count", "subtask_counts"}
)


def _is_reference(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping) and "id" in value


def _is_reference_list(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(_is_reference(item) for item in value)


def _comparable(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two views of a task as the fields a change event names: a reference (`{"id", ...}`,
    or null) as `<name>_id`, a list of references as `<singular>_ids` (sorted), never a
    person's email or name (they are the user's own data, not the task's)."""
    compared: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    for name in dict.fromkeys([*before, *after]):
        if name in _NOT_CHANGES:
            continue
        values = (before.get(name), after.get(name))
        if any(_is_reference(value) for value in values):
            for fields, value in zip(compared, values, strict=True):
                fields[f"{name}_id"] = value["id"] if _is_reference(value) else None
        elif any(isinstance(value, Mapping) for value in values):
            continue  # a derived summary (counts): not a field a writer set
        elif any(isinstance(value, list | tuple) for value in values) and all(
            value is None or _is_reference_list(value) for value in values
        ):
            for fields, value in zip(compared, values, strict=True):
                fields[f"{name.removesuffix('s')}_ids"] = sorted(item["id"] for item in value or ())
        else:
            for fields, value in zip(compared, values, strict=True):
                fields[name] = value
    return compared


# The fields that say where a task is: a change of one of them is a move.
_PLACE = frozenset({"project_id", "status_id", "position"})


def task_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, Changes] | None:
    """The type and changes of the event a task's write makes, from its view before and
    after: `task.completed` or `task.reopened` when is_completed flips, `task.moved` when
    its place changes (its project, its status, or its rank among its status's tasks),
    `task.updated` otherwise; None when no field changed. The opaque rank key (`position`)
    is named only when the task stayed in its status: a new status says where it went."""
    changes = changes_between(*_comparable(before, after))
    if not changes:
        return None
    if {"project_id", "status_id"} & changes.keys():
        changes.pop("position", None)
    if "is_completed" in changes:
        return ("task.completed" if after.get("is_completed") else "task.reopened"), changes
    if _PLACE & changes.keys():
        return "task.moved", changes
    return "task.updated", changes


def task_event_row(
    *, actor_id: int | None, before: Mapping[str, Any], after: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The event row of a task's write (see `task_change`), in the project the task is in
    after it; None when the write changed nothing a reader sees."""
    change = task_change(before, after)
    if change is None:
        return None
    type_, changes = change
    return event_row(
        type=type_,
        actor_id=actor_id,
        project_id=after["project"]["id"],
        task_id=after["id"],
        changes=changes,
    )


# --- reading ------------------------------------------------------------------------------

# The one order of a history, named in its cursors: newest first, by id.
HISTORY_SORT = "-id"


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of a history, the number of matching events, where the next page starts."""

    events: list[ActivityRead]
    total: int
    next_cursor: Cursor | None


async def list_events(
    *,
    session: AsyncSession,
    project_id: int | None = None,
    task_id: int | None = None,
    filters: ActivityQuery,
    page: KeysetPage,
) -> EventPage:
    """One page of a project's (or a task's) events that match the filters, newest first.

    The caller's right to read them is checked by the domain that owns the project or the
    task; a deleted task's events stay in its project's history."""
    before_id = None
    if page.cursor is not None:
        before_id = decode_cursor(page.cursor, sort=HISTORY_SORT, column=ActivityEvent.id).last_id
    conditions = queries.history_conditions(
        project_id=project_id,
        task_id=task_id,
        types=filters.type,
        actor_id=filters.actor_id,
        since=filters.since,
    )
    # One row more than the page says whether a next page exists.
    statement = queries.history_page(
        conditions, before_id=before_id, skip=page.skip, rows=page.limit + 1
    )
    rows = list(await session.execute(statement))
    total = await session.scalar(queries.history_count(conditions))
    next_cursor = None
    if len(rows) > page.limit:
        del rows[page.limit :]
        next_cursor = Cursor(sort=HISTORY_SORT, value=None, last_id=rows[-1].id)
    return EventPage(
        events=[_event(row) for row in rows], total=total or 0, next_cursor=next_cursor
    )


def _event(row: Any) -> ActivityRead:
    actor = None
    if row.actor_id is not None and row.actor_email is not None:
        actor = UserSummary(id=row.actor_id, email=row.actor_email, full_name=row.actor_full_name)
    return ActivityRead(
        id=row.id,
        type=row.type,
        actor=actor,
        project_id=row.project_id,
        task_id=row.task_id,
        at=row.at,
        changes=row.changes,
        request_id=row.request_id,
    )
