"""A task as every route answers it: one typed view, built by one function."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict  # pydantic reads these on Python 3.11

from taskflow.labels.service import decode_labels
from taskflow.tasks.queries import VIEW_COLUMN_NAMES


class ProjectRef(TypedDict):
    """The project a task is in, as ProjectSummary shows it."""

    id: int
    name: str


class PersonRef(TypedDict):
    """An assignee or creator, as UserSummary shows it."""

    id: int
    email: str
    full_name: str


class LabelRef(TypedDict):
    """A label a task carries, as LabelRef shows it."""

    id: int
    name: str
    color: str


class SubtaskCounts(TypedDict):
    total: int
    done: int


class StatusRef(TypedDict):
    """The status a task is in, as StatusSummary shows it."""

    id: int
    name: str
    category: str


class TaskView(TypedDict):
    """The data of TaskRead, in its order, plus the version its ETag names."""

    id: int
    title: str
    description: str | None
    priority: int
    is_completed: bool
    completed_at: datetime | None
    due_date: datetime | None
    project: ProjectRef
    assignee: PersonRef | None
    created_by: PersonRef
    comment_count: int
    created_at: datetime
    updated_at: datetime
    parent_id: int | None
    subtask_counts: SubtaskCounts
    labels: list[LabelRef]
    status: StatusRef
    position: str
    version: Annotated[int, Field(exclude=True)]  # in the ETag, not the body


# Task views as JSON, as TaskRead shows them, without building a TaskRead of each: the list
# answers many, and the view is already typed (tests/unit/test_task_views.py holds the two
# to the same JSON).
_TASK_VIEWS = TypeAdapter(list[TaskView])


def tasks_json(tasks: list[TaskView]) -> bytes:
    """The JSON array of these tasks, each as TaskRead shows it."""
    return _TASK_VIEWS.dump_json(tasks)


_WIDTH = len(VIEW_COLUMN_NAMES)
_POSITION = {name: position for position, name in enumerate(VIEW_COLUMN_NAMES)}


def task_view(columns: Sequence[Any]) -> TaskView:
    """The view of a task from its columns in the order of `queries.VIEW_COLUMNS`: a row
    the database gave (which may carry more columns after them), or what a write knows.

    Unpacked by position: a row's attribute lookups cost ten times its positions.
    """
    (
        task_id,
        title,
        description,
        priority,
        is_completed,
        completed_at,
        due_date,
        created_at,
        updated_at,
        version,
        project_id,
        project_name,
        assignee_id,
        assignee_email,
        assignee_full_name,
        created_by_id,
        creator_email,
        creator_full_name,
        comment_count,
        parent_id,
        subtask_total,
        subtask_done,
        status_id,
        status_name,
        status_category,
        position,
        label_codes,
    ) = columns[:_WIDTH]
    return {
        "id": task_id,
        "title": title,
        "description": description,
        "priority": priority,
        "is_completed": is_completed,
        "completed_at": completed_at,
        "due_date": due_date,
        "project": {"id": project_id, "name": project_name},
        "assignee": None
        if assignee_id is None
        else {"id": assignee_id, "email": assignee_email, "full_name": assignee_full_name},
        "created_by": {"id": created_by_id, "email": creator_email, "full_name": creator_full_name},
        "comment_count": comment_count,
        "created_at": created_at,
        "updated_at": updated_at,
        "parent_id": parent_id,
        "subtask_counts": {"total": subtask_total or 0, "done": subtask_done or 0},
        "labels": decode_labels(label_codes),  # type: ignore[typeddict-item]
        "status": {"id": status_id, "name": status_name, "category": status_category},
        "position": position,
        "version": version,
    }


def columns_after(read: Sequence[Any], changed: Mapping[str, Any]) -> list[Any]:
    """The view's columns of a task after a write, for task_view: those of `read` (the row
    the write was based on), with the ones `changed` names set to their new values."""
    columns = list(read[:_WIDTH])
    for name, value in changed.items():
        columns[_POSITION[name]] = value
    return columns
