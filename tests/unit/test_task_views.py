"""The list serializes task views directly (views.tasks_json): what TaskRead gives, for any
view, so the documented shape and the answered one cannot drift apart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from taskflow.tasks.schemas import TaskRead
from taskflow.tasks.views import TaskView, task_view, tasks_json

_TEXT = st.text(max_size=30)
_IDS = st.integers(min_value=1, max_value=2**63 - 1)
_WHEN = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
) | st.datetimes(timezones=st.just(timezone(timedelta(hours=5, minutes=30))))
_PERSON = st.fixed_dictionaries({"id": _IDS, "email": _TEXT, "full_name": _TEXT})


def _views() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "id": _IDS,
            "title": _TEXT,
            "description": st.none() | _TEXT,
            "priority": st.integers(1, 5),
            "is_completed": st.booleans(),
            "completed_at": st.none() | _WHEN,
            "due_date": st.none() | _WHEN,
            "created_at": _WHEN,
            "updated_at": _WHEN,
            "version": st.integers(1, 10**9),
            "project": st.fixed_dictionaries({"id": _IDS, "name": _TEXT}),
            "assignee": st.none() | _PERSON,
            "created_by": _PERSON,
            "comment_count": st.integers(0, 10**6),
            "parent_id": st.none() | _IDS,
            "subtask_counts": st.fixed_dictionaries(
                {"total": st.integers(0, 500), "done": st.integers(0, 500)}
            ),
            # decode_labels builds them in this key order, not TaskRead's.
            "labels": st.lists(
                st.fixed_dictionaries({"id": _IDS, "color": st.just("#A0b1C2"), "name": _TEXT}),
                max_size=3,
            ),
            "status": st.fixed_dictionaries(
                {
                    "id": _IDS,
                    "name": _TEXT,
                    "category": st.sampled_from(["todo", "in_progress", "done"]),
                }
            ),
            "position": st.text(alphabet="0123456789abcXYZ", min_size=1, max_size=8),
        }
    )


_AS_READ = TypeAdapter(list[TaskRead])


@settings(max_examples=200)
@given(st.lists(_views(), max_size=4))
def test_any_views_serialize_as_task_read(views: list[dict[str, Any]]) -> None:
    tasks: list[TaskView] = views  # type: ignore[assignment]

    assert json.loads(tasks_json(tasks)) == json.loads(
        _AS_READ.dump_json(_AS_READ.validate_python(views))
    )


def test_a_view_read_from_its_columns_serializes_byte_for_byte_as_task_read() -> None:
    when = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    columns = (
        *(7, "Ship it", "notes", 3, True, when, None, when, when, 4),
        *(2, "Launch", 5, "a@example.com", "Ann", 6, "b@example.com", "Bob"),
        *(1, None, 3, 2, 11, "Done", "done", "a0"),
        "9:3:#00FF00two,8:3:#FF0000one",  # the labels' code (labels.queries)
    )
    view = task_view(columns)

    assert tasks_json([view]) == _AS_READ.dump_json(_AS_READ.validate_python([view]))
    assert [label["name"] for label in json.loads(tasks_json([view]))[0]["labels"]] == [
        "one",
        "two",
    ]


def test_every_field_of_task_read_is_a_field_of_the_view_and_the_version_is_left_out() -> None:
    view_fields = list(TaskView.__annotations__)

    assert view_fields == [*TaskRead.model_fields, "version"]
