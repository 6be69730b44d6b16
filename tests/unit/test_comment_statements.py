"""Every statement that reads or writes comments for a caller is built on the tasks' one
visibility query, and the one comment view holds what CommentRead shows."""

from __future__ import annotations

from typing import get_type_hints

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from taskflow.comments import queries
from taskflow.comments.schemas import CommentRead
from taskflow.comments.views import CommentView, comment_view
from tests.unit.test_task_statements import sql, visibility

DIALECTS = pytest.mark.parametrize(
    "dialect", [postgresql.dialect(), sqlite.dialect()], ids=["postgresql", "sqlite"]
)


@DIALECTS
@pytest.mark.parametrize("admin", [False, True], ids=["user", "administrator"])
def test_every_comment_statement_for_a_caller_is_built_on_visible_tasks(
    admin: bool, dialect: Dialect
) -> None:
    statements = [
        queries.task_to_comment_on(admin=admin),
        queries.visible_comment(admin=admin),
        queries.comment_page(admin=admin, after=False),
        queries.comment_page(admin=admin, after=True),
    ]

    rule = visibility(admin, dialect)
    for statement in statements:
        assert rule in sql(statement, dialect)


def test_the_comment_view_holds_what_comment_read_shows_and_the_version() -> None:
    assert set(get_type_hints(CommentView)) == {*CommentRead.model_fields, "version"}


@pytest.mark.parametrize(("version", "edited"), [(1, False), (2, True), (9, True)])
def test_a_comment_is_edited_once_its_version_moved_on(version: int, edited: bool) -> None:
    columns = (1, 2, 3, "a@example.com", "A", "body", "t0", "t1", version, "more")

    view = comment_view(columns)

    assert (view["edited"], view["version"]) == (edited, version)
    assert view["author"] == {"id": 3, "email": "a@example.com", "full_name": "A"}
    assert comment_view((1, 2, None, None, None, "b", "t0", "t0", 1))["author"] is None
