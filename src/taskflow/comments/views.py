"""A comment as every route answers it: one typed view, built by one function."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypedDict

from taskflow.comments.queries import VIEW_COLUMNS
from taskflow.tasks.views import PersonRef

_WIDTH = len(VIEW_COLUMNS)


class CommentView(TypedDict):
    """The data of CommentRead, plus the version its ETag names."""

    id: int
    task_id: int
    author: PersonRef | None
    body: str
    created_at: datetime
    updated_at: datetime
    edited: bool
    version: int


def comment_view(columns: Sequence[Any]) -> CommentView:
    """The view of a comment from its columns in the order of `queries.VIEW_COLUMNS` (a row
    may carry more columns after them), or what a write knows."""
    (
        comment_id,
        task_id,
        author_id,
        author_email,
        author_full_name,
        body,
        created_at,
        updated_at,
        version,
    ) = columns[:_WIDTH]
    return {
        "id": comment_id,
        "task_id": task_id,
        "author": None
        if author_id is None
        else {"id": author_id, "email": author_email, "full_name": author_full_name},
        "body": body,
        "created_at": created_at,
        "updated_at": updated_at,
        "edited": version > 1,
        "version": version,
    }
