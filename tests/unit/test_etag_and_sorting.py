"""If-Match preconditions and the ORDER BY built from a `sort` parameter."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from taskflow.core.errors import PreconditionFailed
from taskflow.core.etag import check_if_match, etag
from taskflow.core.pagination import sort_clauses
from taskflow.tasks.filters import TASK_SORT_COLUMNS
from taskflow.tasks.models import Task


def test_etag_is_the_quoted_version() -> None:
    assert etag(7) == '"7"'


@pytest.mark.parametrize("header", [None, "*", '"3"', '"1", "3"', ' "2" ,"3" ', '*, "9"'])
def test_if_match_passes_when_absent_star_or_listing_the_current_tag(header: str | None) -> None:
    check_if_match(header, 3)


@pytest.mark.parametrize("header", ['"2"', "3", 'W/"3"', '"3 "', "", '"2", W/"3"'])
def test_if_match_fails_with_412_for_other_tags_and_weak_ones(header: str) -> None:
    with pytest.raises(PreconditionFailed) as raised:
        check_if_match(header, 3)
    assert raised.value.status_code == 412
    assert raised.value.error == "precondition_failed"


def _order_by_sql(sort: str, dialect: object) -> str:
    query = select(Task.id).order_by(*sort_clauses(sort, TASK_SORT_COLUMNS, Task.id))
    compiled = str(query.compile(dialect=dialect))  # type: ignore[arg-type]
    return compiled.split("ORDER BY", 1)[1].strip()


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()])
def test_ascending_sort_puts_empty_values_last_and_breaks_ties_by_id(dialect: object) -> None:
    assert _order_by_sql("due_date", dialect) == "tasks.due_date ASC NULLS LAST, tasks.id ASC"


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()])
def test_leading_dash_sorts_descending_with_empty_values_still_last(dialect: object) -> None:
    assert _order_by_sql("-priority", dialect) == "tasks.priority DESC NULLS LAST, tasks.id DESC"


def test_unknown_sort_key_is_refused() -> None:
    with pytest.raises(KeyError):
        sort_clauses("password_hash", TASK_SORT_COLUMNS, Task.id)
