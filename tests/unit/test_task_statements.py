"""Every statement that reads or writes tasks for a caller starts from the one visible-tasks
query, and the one task view holds what TaskRead shows."""

from __future__ import annotations

import re
from typing import Any, get_type_hints

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from taskflow.tasks import board, bulk, queries
from taskflow.tasks.schemas import TaskRead
from taskflow.tasks.views import TaskView, columns_after, task_view

DIALECTS = pytest.mark.parametrize(
    "dialect", [postgresql.dialect(), sqlite.dialect()], ids=["postgresql", "sqlite"]
)
# Filter shapes (see TaskFilters.shape): none, then every one set.
SHAPES = [
    (False, None, 0, False, False, False, False, False, 0, False, None, False, False),
    (True, "overdue", 2, True, True, True, True, True, 2, True, True, True, True),
    (False, "pending", 0, False, False, False, False, False, 1, False, False, False, True),
]


def sql(statement: Any, dialect: Dialect) -> str:
    """The statement's SQL on one line, its anonymous parameters numbered alike."""
    text = " ".join(str(statement.compile(dialect=dialect)).split())
    return re.sub(r"param_\d+", "param", text)


def visibility(admin: bool, dialect: Dialect) -> str:
    """What visible_tasks selects from: the tasks of the caller's projects."""
    text = sql(queries.visible_tasks(admin=admin), dialect)
    return text[text.index("FROM tasks") :]


@DIALECTS
@pytest.mark.parametrize("admin", [False, True], ids=["user", "administrator"])
def test_every_task_statement_for_a_caller_is_built_on_visible_tasks(
    admin: bool, dialect: Dialect
) -> None:
    statements = [
        queries.visible_task_view(admin=admin),
        queries.visible_task_to_write(admin=admin),
        bulk._visible_tasks_to_change(admin=admin),
        board._first_tasks(admin=admin),
    ]
    for shape in SHAPES:
        for start in (queries.FROM_OFFSET, queries.AFTER_VALUE, queries.AFTER_EMPTY):
            for sort in ("-due_date", "position"):
                statements += queries.task_list_statements(
                    admin=admin, filters=shape, sort=sort, start=start
                )

    rule = visibility(admin, dialect)
    for statement in statements:
        assert rule in sql(statement, dialect)


def test_the_task_view_holds_what_task_read_shows_and_the_version() -> None:
    assert set(get_type_hints(TaskView)) == {*TaskRead.model_fields, "version"}


def test_a_view_after_a_write_is_the_read_one_with_the_written_columns() -> None:
    read: dict[str, Any] = dict.fromkeys(queries.VIEW_COLUMN_NAMES)
    read |= {"id": 7, "title": "Read", "priority": 3, "is_completed": False, "version": 1}
    read |= {"comment_count": 0}
    read |= {"project_id": 2, "project_name": "Home", "assignee_id": 4}
    read |= {"created_by_id": 5, "creator_email": "a@example.com", "creator_full_name": "A"}
    read |= {"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
    read |= {"status_id": 3, "status_name": "To do", "status_category": "todo", "position": "a0"}
    row = (*read.values(), "a column read after the view's")

    changed = task_view(columns_after(row, {"title": "Changed", "assignee_id": None}))

    assert TaskRead.model_validate(changed).model_dump()["project"] == {"id": 2, "name": "Home"}
    assert changed == {**task_view(row), "title": "Changed", "assignee": None}
    with pytest.raises(KeyError):
        columns_after(row, {"no_such_column": 1})
