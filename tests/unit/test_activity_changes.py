"""Which event a task's write makes, from its view before and after: the type and the
`{field: [old, new]}` changes, whatever fields the view carries (statuses, labels and
parents included)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from taskflow.activity.service import changes_between, task_change

BEFORE: dict[str, Any] = {
    "id": 7,
    "title": "Plan",
    "priority": 3,
    "is_completed": False,
    "completed_at": None,
    "version": 4,
    "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
    "project": {"id": 1, "name": "P"},
    "assignee": {"id": 5, "email": "a@example.com", "full_name": "A"},
    "created_by": {"id": 5, "email": "a@example.com", "full_name": "A"},
    # The fields of statuses, labels and subtasks, in the shapes the issue gives them.
    "status": {"id": 10, "name": "To do", "category": "todo"},
    "labels": [{"id": 3, "name": "b", "color": "#000000"}],
    "parent_id": None,
    "subtask_counts": {"total": 0, "done": 0},
    "comment_count": 0,
    "position": "a1",
}


def after(**changed: Any) -> dict[str, Any]:
    return {
        **BEFORE,
        "version": 5,
        "updated_at": datetime(2026, 1, 2, tzinfo=UTC),
        **changed,
    }


def test_a_plain_change_is_updated_with_only_the_fields_that_changed() -> None:
    assert task_change(BEFORE, after(title="Plan it", comment_count=4)) == (
        "task.updated",
        {"title": ["Plan", "Plan it"]},
    )


def test_references_are_compared_by_id_and_never_show_a_persons_email() -> None:
    unassigned = task_change(BEFORE, after(assignee=None))
    reassigned = task_change(
        BEFORE, after(assignee={"id": 6, "email": "b@example.com", "full_name": "B"})
    )
    renamed_only = task_change(
        BEFORE, after(assignee={"id": 5, "email": "new@example.com", "full_name": "A2"})
    )

    assert unassigned == ("task.updated", {"assignee_id": [5, None]})
    assert reassigned == ("task.updated", {"assignee_id": [5, 6]})
    assert renamed_only is None


def test_new_view_fields_are_named_by_id_and_derived_counts_are_left_out() -> None:
    # A new status is a new place on the board: a move.
    status = {"id": 11, "name": "Doing", "category": "in_progress"}
    labels = [{"id": 4, "name": "a", "color": "#111111"}, {"id": 3, "name": "b", "color": "#0"}]

    change = task_change(
        BEFORE,
        after(status=status, labels=labels, parent_id=2, subtask_counts={"total": 1, "done": 1}),
    )

    assert change == (
        "task.moved",
        {"status_id": [10, 11], "label_ids": [[3], [3, 4]], "parent_id": [None, 2]},
    )


def test_completion_flips_are_completed_and_reopened_before_a_move() -> None:
    done_at = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    completed = task_change(BEFORE, after(is_completed=True, completed_at=done_at))
    reopened = task_change(after(is_completed=True, completed_at=done_at), BEFORE)
    moved = task_change(BEFORE, after(project={"id": 2, "name": "Q"}))

    assert completed == (
        "task.completed",
        {"is_completed": [False, True], "completed_at": [None, done_at.isoformat()]},
    )
    assert reopened is not None and reopened[0] == "task.reopened"
    assert moved == ("task.moved", {"project_id": [1, 2]})


def test_no_change_is_no_event() -> None:
    assert task_change(BEFORE, after()) is None
    assert changes_between({"a": 1}, {"a": 1}) == {}


def test_a_reorder_within_a_status_is_a_move_naming_the_rank_key() -> None:
    reordered = task_change(BEFORE, after(position="a0V"))
    to_doing = task_change(
        BEFORE, after(status={"id": 11, "name": "Doing", "category": "in_progress"}, position="a0")
    )

    assert reordered == ("task.moved", {"position": ["a1", "a0V"]})
    # A new status says where it went: its opaque rank key is left out.
    assert to_doing == ("task.moved", {"status_id": [10, 11]})
