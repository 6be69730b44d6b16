"""Page parameters and the X-Total-Count and RFC 8288 Link headers of every list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
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
        prev_url = request.url.include_query_params(
            skip=max(page.skip - page.limit, 0), limit=page.limit
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
