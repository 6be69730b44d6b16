"""Activity statement builders: a history (one project's or one task's events), newest
first, keyset-paged on the event id. Who may read a history is decided by the domain that
owns what it is the history of (projects, tasks), before these run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, Select, bindparam, func, insert, or_, select

from taskflow.activity.models import ActivityEvent
from taskflow.users.models import User

# What an event is shown with, in the order `service.list_events` reads them.
EVENT_COLUMNS = (
    ActivityEvent.id,
    ActivityEvent.type,
    ActivityEvent.actor_id,
    User.email.label("actor_email"),
    User.full_name.label("actor_full_name"),
    ActivityEvent.project_id,
    ActivityEvent.task_id,
    ActivityEvent.at,
    ActivityEvent.changes,
    ActivityEvent.request_id,
)


def history_conditions(
    *,
    project_id: int | None,
    task_id: int | None,
    types: Sequence[str],
    actor_id: int | None,
    since: datetime | None,
) -> list[ColumnElement[bool]]:
    """WHERE of a history: one project's or one task's events, of these types (a family
    `x.*` is every type starting with `x.`), by this actor, at or after `since`."""
    conditions: list[ColumnElement[bool]] = []
    if project_id is not None:
        conditions.append(ActivityEvent.project_id == project_id)
    if task_id is not None:
        conditions.append(ActivityEvent.task_id == task_id)
    if types:
        exact = [t for t in types if not t.endswith(".*")]
        # Families are checked against the known ones (schemas): letters only, no wildcard.
        families = [t.removesuffix("*") for t in types if t.endswith(".*")]
        matches = [ActivityEvent.type.startswith(family) for family in families]
        if exact:
            matches.append(ActivityEvent.type.in_(exact))
        conditions.append(or_(*matches))
    if actor_id is not None:
        conditions.append(ActivityEvent.actor_id == actor_id)
    if since is not None:
        conditions.append(ActivityEvent.at >= since)
    return conditions


def history_page(
    conditions: Sequence[ColumnElement[bool]], *, before_id: int | None, skip: int, rows: int
) -> Select[Any]:
    """The page of a history: newest first, after the cursor's event (`before_id`) or
    `skip` rows, `rows` of them, with the actor's name (none when the account is gone)."""
    page = select(*EVENT_COLUMNS).outerjoin(User, User.id == ActivityEvent.actor_id)
    page = page.where(*conditions)
    if before_id is not None:
        page = page.where(ActivityEvent.id < before_id)
    return page.order_by(ActivityEvent.id.desc()).offset(skip).limit(rows)


def history_count(conditions: Sequence[ColumnElement[bool]]) -> Select[int]:
    """How many events a history has with these filters."""
    return select(func.count()).select_from(ActivityEvent).where(*conditions)


# --- writing within another statement -----------------------------------------------------

# The columns of an event a write binds as `event_<column>`; the task's id comes from the write.
_BOUND_EVENT_COLUMNS = ("type", "actor_id", "project_id", "at", "changes", "request_id")


def insert_event_for(task_id: ColumnElement[Any]) -> Insert:
    """INSERT of an event for each row `task_id` comes from (a CTE of a write's RETURNING, on
    PostgreSQL), its other columns bound as `event_<column>` (`event_parameters`): the write
    and its event are one statement, which commits or fails as one."""
    bound = [
        bindparam(f"event_{name}", type_=ActivityEvent.__table__.c[name].type)
        for name in _BOUND_EVENT_COLUMNS
    ]
    return insert(ActivityEvent).from_select(
        [*_BOUND_EVENT_COLUMNS, "task_id"], select(*bound, task_id)
    )


def event_parameters(row: Mapping[str, Any]) -> dict[str, Any]:
    """The bound parameters of `insert_event_for` from an event's row (`service.event_row`)."""
    return {f"event_{name}": row[name] for name in _BOUND_EVENT_COLUMNS}
