"""Page parameters, keyset cursors, and the X-Total-Count and RFC 8288 Link headers."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Query
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    SmallInteger,
    UnaryExpression,
    and_,
    or_,
    tuple_,
)
from sqlalchemy.orm import QueryableAttribute
from starlette.requests import Request
from starlette.responses import Response

from taskflow.core.errors import UnprocessableEntity

SortColumn = ColumnElement[Any] | QueryableAttribute[Any]
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# The deepest offset a list takes, the largest 32-bit integer: every list's OFFSET holds it
# on both databases, and so does the task list's skip + rows, bound as BIGINT.
MAX_SKIP = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Page:
    skip: int
    limit: int


async def page_params(
    skip: Annotated[int, Query(ge=0, le=MAX_SKIP, description=f"Rows to skip (0-{MAX_SKIP})")] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Rows to return (1-100)")
    ] = DEFAULT_PAGE_SIZE,
) -> Page:
    return Page(skip=skip, limit=limit)


MAX_CURSOR_LENGTH = 512


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a keyset page starts: after the row with this sort value and id, in this sort."""

    sort: str
    value: Any
    last_id: int

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        raw = json.dumps([self.sort, value, self.last_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


class InvalidCursor(UnprocessableEntity):
    def __init__(self, message: str = "Not a cursor from this list") -> None:
        super().__init__(message, loc=("query", "cursor"))


def decode_cursor(text: str, *, sort: str, column: SortColumn) -> Cursor:
    """The cursor of a `next` link, checked against the sort it is used with."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        sort_key, value, last_id = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise InvalidCursor() from None
    if sort_key != sort:
        raise InvalidCursor("The cursor belongs to another sort order")
    if type(last_id) is not int or not 1 <= last_id <= 2**63 - 1:
        raise InvalidCursor()
    return Cursor(sort=sort, value=_sort_value(value, column), last_id=last_id)


def _sort_value(value: Any, column: SortColumn) -> Any:
    """The cursor's sort value, if its column can hold it: a forged one must not reach the
    database, which would refuse it with an error rather than a 422."""
    if value is None:
        return None
    column_type = column.type
    python_type = column_type.python_type
    if python_type is datetime and isinstance(value, str):
        return _cursor_time(value)
    if python_type is str and isinstance(value, str):
        length = getattr(column_type, "length", None)
        if (length is not None and len(value) > length) or not _storable_text(value):
            raise InvalidCursor()
        return value
    if python_type is int and type(value) is int:
        bits = _integer_bits(column_type)
        if -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            return value
    raise InvalidCursor()


def _integer_bits(column_type: Any) -> int:
    if isinstance(column_type, SmallInteger):
        return 16
    return 64 if isinstance(column_type, BigInteger) else 32


def _cursor_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise InvalidCursor()
        # Out of years 1-9999 in UTC, no database column holds it.
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidCursor() from None


def _storable_text(value: str) -> bool:
    """No NUL (PostgreSQL text cannot hold it) and no lone surrogate (not UTF-8)."""
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class KeysetPage:
    """Offset paging (`skip`) or keyset paging (`cursor`): one of the two, never both."""

    skip: int
    limit: int
    cursor: str | None = None


async def keyset_page_params(
    page: Annotated[Page, Depends(page_params)],
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_CURSOR_LENGTH,
            pattern="^[A-Za-z0-9_-]+$",
            description="Start after this position: the cursor of a `next` Link (not with skip)",
        ),
    ] = None,
) -> KeysetPage:
    if cursor is not None and page.skip:
        raise UnprocessableEntity("Use either skip or cursor, not both", loc=("query", "cursor"))
    return KeysetPage(skip=page.skip, limit=page.limit, cursor=cursor)


def after_cursor(
    column: SortColumn, tiebreak: SortColumn, *, descending: bool, value: Any, last_id: Any
) -> ColumnElement[bool]:
    """WHERE for the rows after the cursor in the order of `sort_clauses` (empty values last):
    after the row whose sort value is `value` (None: empty) and whose id is `last_id`. Both
    may be bound parameters, so the statement can be built once.

    It compares on the sort column and the id, which an index on both answers without
    reading the rows before the cursor, so a deep page costs what the first one does.
    """
    if not getattr(getattr(column, "expression", column), "nullable", True):
        # A row comparison, which PostgreSQL answers from an index on (column, id).
        pair, position = tuple_(column, tiebreak), tuple_(value, last_id)
        return pair < position if descending else pair > position
    beyond_id = tiebreak < last_id if descending else tiebreak > last_id
    if value is None:
        return and_(column.is_(None), beyond_id)
    beyond_value = column < value if descending else column > value
    return or_(beyond_value, and_(column == value, beyond_id), column.is_(None))


def keyset_link_header(
    request: Request, *, page: KeysetPage, total: int, next_cursor: Cursor | None
) -> str | None:
    """`next` by cursor whenever there are more rows; `prev` by offset on offset pages."""
    links = []
    if next_cursor is not None:
        next_url = _page_url(request, drop=("skip",), cursor=next_cursor.encode(), limit=page.limit)
        links.append(f'<{next_url}>; rel="next"')
    if page.cursor is None and page.skip > 0:
        links.append(f'<{_prev_url(request, page.skip, page.limit, total)}>; rel="prev"')
    return ", ".join(links) or None


def _page_url(request: Request, *, drop: tuple[str, ...] = (), **params: object) -> str:
    """The request's URL with `params` set (last, in this order) and `drop` left out; the
    other query parameters keep their order. One string operation where Starlette's URL
    helpers would parse and rebuild the URL for each change."""
    replaced = {*drop, *params}
    url = str(request.url)
    base, _, query = url.partition("?")
    kept = [pair for pair in parse_qsl(query, keep_blank_values=True) if pair[0] not in replaced]
    return f"{base}?{urlencode([*kept, *((name, str(value)) for name, value in params.items())])}"


def _prev_url(request: Request, skip: int, limit: int, total: int) -> str:
    # Past the end, "prev" is the last page that has rows.
    last_page = (total - 1) // limit * limit if total else 0
    return _page_url(request, skip=max(min(skip - limit, last_page), 0), limit=limit)


def link_header(request: Request, *, page: Page, total: int) -> str | None:
    links = []
    if page.skip + page.limit < total:
        next_url = _page_url(request, skip=page.skip + page.limit, limit=page.limit)
        links.append(f'<{next_url}>; rel="next"')
    if page.skip > 0:
        links.append(f'<{_prev_url(request, page.skip, page.limit, total)}>; rel="prev"')
    return ", ".join(links) or None


def set_page_headers(request: Request, response: Response, *, page: Page, total: int) -> None:
    _set_headers(response, total, link_header(request, page=page, total=total))


def set_keyset_page_headers(
    request: Request,
    response: Response,
    *,
    page: KeysetPage,
    total: int,
    next_cursor: Cursor | None,
) -> None:
    link = keyset_link_header(request, page=page, total=total, next_cursor=next_cursor)
    _set_headers(response, total, link)


def _set_headers(response: Response, total: int, link: str | None) -> None:
    response.headers["X-Total-Count"] = str(total)
    if link:
        response.headers["Link"] = link


PAGE_HEADERS_DOC = {
    "X-Total-Count": {"description": "Rows matching the filters", "schema": {"type": "integer"}},
    "Link": {
        "description": "RFC 8288 links to the next and previous pages",
        "schema": {"type": "string"},
    },
}


def sort_clauses(
    sort: str, columns: Mapping[str, SortColumn], tiebreak: SortColumn
) -> list[UnaryExpression[Any]]:
    """ORDER BY for a `sort` parameter like "name" or "-created_at" (a leading '-' descends).

    Empty values sort last either way, and the tiebreak column makes the order total, so
    pages neither repeat nor skip rows.
    """
    descending = sort.startswith("-")
    column = columns[sort.removeprefix("-")]
    if descending:
        return [column.desc().nulls_last(), tiebreak.desc()]
    return [column.asc().nulls_last(), tiebreak.asc()]
