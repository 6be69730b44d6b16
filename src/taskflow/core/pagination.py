"""Page parameters and the X-Total-Count and RFC 8288 Link headers of every list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import ColumnElement, UnaryExpression
from sqlalchemy.orm import QueryableAttribute
from starlette.requests import Request
from starlette.responses import Response

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class Page:
    skip: int
    limit: int


def page_params(
    skip: Annotated[int, Query(ge=0, le=2**31, description="Rows to skip")] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Rows to return (1-100)")
    ] = DEFAULT_PAGE_SIZE,
) -> Page:
    return Page(skip=skip, limit=limit)


def link_header(request: Request, *, page: Page, total: int) -> str | None:
    links = []
    if page.skip + page.limit < total:
        next_url = request.url.include_query_params(skip=page.skip + page.limit, limit=page.limit)
        links.append(f'<{next_url}>; rel="next"')
    if page.skip > 0:
        # Past the end, "prev" is the last page that has rows.
        last_page = (total - 1) // page.limit * page.limit if total else 0
        prev_url = request.url.include_query_params(
            skip=max(min(page.skip - page.limit, last_page), 0), limit=page.limit
        )
        links.append(f'<{prev_url}>; rel="prev"')
    return ", ".join(links) or None


def set_page_headers(request: Request, response: Response, *, page: Page, total: int) -> None:
    response.headers["X-Total-Count"] = str(total)
    link = link_header(request, page=page, total=total)
    if link:
        response.headers["Link"] = link


PAGE_HEADERS_DOC = {
    "X-Total-Count": {"description": "Rows matching the filters", "schema": {"type": "integer"}},
    "Link": {
        "description": "RFC 8288 links to the next and previous pages",
        "schema": {"type": "string"},
    },
}


SortColumn = ColumnElement[Any] | QueryableAttribute[Any]


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
