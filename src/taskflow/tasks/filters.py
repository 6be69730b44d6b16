"""What a task list may be filtered and sorted by, as the SQL the list statements embed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, cast, exists, or_, select

from taskflow.core.db import BigIntId
from taskflow.labels.models import TaskLabel
from taskflow.statuses.models import Status
from taskflow.tasks.models import Task

# Board order as one sortable text: the status's place (fixed width) then the task's rank
# key. On PostgreSQL it compares byte by byte: the rank key's "C" collation carries over.
BOARD_KEY = (cast(Status.position + 10_000, String) + Task.position).label("board_key")

TASK_SORT_COLUMNS: dict[str, Any] = {
    "created_at": Task.created_at,
    "updated_at": Task.updated_at,
    "due_date": Task.due_date,
    "priority": Task.priority,
    "title": Task.title,
    "position": BOARD_KEY,
}


@dataclass(frozen=True, slots=True)
class TaskFilters:
    """The filters of one task list; they combine with AND."""

    project_id: int | None = None
    status: str | None = None
    assignee_ids: frozenset[int] = frozenset()
    priority: int | None = None
    priority_min: int | None = None
    search: str | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    label_ids: frozenset[int] = frozenset()
    parent_id: int | None = None
    top_level: bool | None = None
    status_id: int | None = None
    status_category: str | None = None

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
            len(self.label_ids),
            self.parent_id is not None,
            self.top_level,
            self.status_id is not None,
            self.status_category is not None,
        )

    def parameters(self, now: datetime) -> dict[str, Any]:
        """The values of the bound parameters of `filter_conditions(self.shape())`."""
        values: dict[str, Any] = {
            "f_project_id": self.project_id,
            "f_priority": self.priority,
            "f_priority_min": self.priority_min,
            "f_due_before": self.due_before,
            "f_due_after": self.due_after,
            "f_parent_id": self.parent_id,
            "f_status_id": self.status_id,
            "f_status_category": self.status_category,
        }
        if self.status in ("overdue", "pending"):
            values["f_now"] = now
        if self.search:
            values["f_search"] = _like_escaped(self.search)
        for position, user_id in enumerate(sorted(self.assignee_ids)):
            values[f"f_assignee_{position}"] = user_id
        for position, label_id in enumerate(sorted(self.label_ids)):
            values[f"f_label_{position}"] = label_id
        return {name: value for name, value in values.items() if value is not None}


_LIKE_ESCAPE = "/"


def _like_escaped(text: str) -> str:
    """`text` matched literally by LIKE ... ESCAPE '/' (what autoescape does to a literal)."""
    for special in (_LIKE_ESCAPE, "%", "_"):
        text = text.replace(special, _LIKE_ESCAPE + special)
    return text


def filter_conditions(shape: tuple[Any, ...]) -> list[Any]:
    """The WHERE of a TaskFilters of this shape, with its values as bound parameters."""
    (project, status, assignees, priority, priority_min, search, due_before, due_after) = shape[:8]
    labels, parent, top_level, status_id, status_category = shape[8:]
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
    # One EXISTS per label, each answered by the (task_id, label_id) primary key.
    conditions.extend(
        exists(
            select(1).where(
                TaskLabel.task_id == Task.id,
                TaskLabel.label_id == bindparam(f"f_label_{position}", type_=BigIntId),
            )
        )
        for position in range(labels)
    )
    if parent:
        conditions.append(Task.parent_id == bindparam("f_parent_id", type_=BigIntId))
    if top_level is not None:
        conditions.append(Task.parent_id.is_(None) if top_level else Task.parent_id.is_not(None))
    if status_id:
        conditions.append(Task.status_id == bindparam("f_status_id", type_=BigIntId))
    if status_category:
        # The status's category, read from the status the task is in.
        in_category = (
            select(Status.id)
            .where(Status.category == bindparam("f_status_category", type_=Status.category.type))
            .correlate(None)  # on its own, also where the list joins statuses (board order)
        )
        conditions.append(Task.status_id.in_(in_category.scalar_subquery()))
    return conditions
