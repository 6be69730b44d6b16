"""Cached reads: the whole protocol of a GET route whose answers are cached, in one place.

A route declares what it reads and returns its body; `cached_read` does every step:

    @router.get("/{project_id:int}", response_model=ProjectRead)
    @cached_read(reads=ONE_PROJECT)
    async def read_project(request: Request, response: Response, ...) -> ProjectRead:
        ...  # the work; headers (ETag, paging) set on `response`

1. The authentication step has already fetched this request's cached answer in the same
   Redis round trip as the principal (`read_key`, `remember_lookup`): a fresh one is sent
   as it is, with no database and no other round trip.
2. Otherwise the declared read gives the generation counters its answers depend on, read
   before the route's own queries (see core.cache: an answer can then only be stale on
   arrival, never wrongly fresh).
3. The route runs; its body (bytes, or a pydantic model) is sent with the headers it set
   that belong to the answer, and stored with those counters.

Where a read cannot be cached (Redis off or down, caching of reads off, a query the read
declares uncacheable, a result the read refuses), the route answers as it would anyway.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from taskflow.core.cache import Cache, digest, record_hit

RouteT = TypeVar("RouteT", bound=Callable[..., Awaitable[Any]])
# A route's arguments by parameter name, as FastAPI passes them (session, principal, ids...).
RouteArguments = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Reading:
    """The counters an answer is built from, read before the data."""

    generations: Mapping[str, str]
    # Whether the route's result may be stored with these counters (None: always).
    keeps: Callable[[Any], bool] | None = None


def _always(arguments: RouteArguments) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class CachedRead:
    """A kind of cached read, declared by the domain that owns its data.

    `counters` reads the generation counters the answers depend on (None: Redis is down, do
    not cache); `cacheable` says which calls may be cached at all (e.g. not those whose
    answer changes with the clock).
    """

    name: str
    counters: Callable[[Cache, RouteArguments], Awaitable[Reading | None]]
    cacheable: Callable[[RouteArguments], bool] = _always


_ROUTE_MARK = "taskflow_cached_read"
# The headers of an answer that belong to it and are cached with it.
_KEPT_HEADERS = frozenset({"etag", "link", "x-total-count"})
_STATE_KEY = "cached_read_key"
_STATE_VALUE = "cached_read_value"


def cached_read(*, reads: CachedRead) -> Callable[[RouteT], RouteT]:
    """Serve a GET route's answers from the cache, per caller and URL; see the module.

    The route takes `request` and `response` parameters and returns its body. The wrapper
    keeps the route's signature (FastAPI follows `__wrapped__`), so the route's parameters
    and the OpenAPI document are the route's own.
    """

    def decorate(route: RouteT) -> RouteT:
        parameters = inspect.signature(route).parameters
        missing = {"request", "response"} - parameters.keys()
        if missing:
            raise TypeError(f"{route.__name__}: a cached read needs parameters {missing}")

        @functools.wraps(route)
        async def serve(**arguments: Any) -> Response:
            request: Request = arguments["request"]
            if (cached := cached_answer(request)) is not None:
                return cached
            cache = read_cache(request)
            reading = None
            if cache is not None and reads.cacheable(arguments):
                reading = await reads.counters(cache, arguments)
            result = await route(**arguments)
            if reading is not None and reading.keeps is not None and not reading.keeps(result):
                reading = None  # the data changed under the read: answer, but do not cache
            body = result.model_dump_json().encode() if isinstance(result, BaseModel) else result
            return await answer(
                request,
                arguments["response"],
                body,
                None if reading is None else reading.generations,
            )

        setattr(serve, _ROUTE_MARK, reads)
        return serve  # type: ignore[return-value]  # same parameters; answers a Response

    return decorate


def declared_read(endpoint: object) -> CachedRead | None:
    """The read a route declares with `cached_read`, if any."""
    read = getattr(endpoint, _ROUTE_MARK, None)
    return read if isinstance(read, CachedRead) else None


# --- the prefetch, made by the authentication step ----------------------------------------


def read_key(cache: Cache, request: Request, caller: str) -> str | None:
    """The cache key of this request's answer for this caller, if its route is cached."""
    route = request.scope.get("route")
    cached_route = getattr(getattr(route, "endpoint", None), _ROUTE_MARK, None) is not None
    if not cache.reads or request.method != "GET" or not cached_route:
        return None
    url = request.url
    return cache.key("r", caller, digest(url.netloc, url.path, url.query))


def remember_lookup(request: Request, key: str, value: str | None) -> None:
    """Keep what the authentication step fetched along with the principal."""
    setattr(request.state, _STATE_KEY, key)
    setattr(request.state, _STATE_VALUE, value)


# --- the steps of `cached_read` -------------------------------------------------------------


def cached_answer(request: Request) -> Response | None:
    """The cached answer to send instead of doing the work, or None (and count the miss)."""
    if getattr(request.state, _STATE_KEY, None) is None:
        return None
    value: str | None = getattr(request.state, _STATE_VALUE, None)
    record_hit(value is not None)
    if value is None:
        return None
    entry = json.loads(value)
    return Response(
        content=entry["b"].encode(),
        status_code=entry["s"],
        headers=entry["h"],
        media_type="application/json",
    )


def read_cache(request: Request) -> Cache | None:
    """The cache, if this request's answer is to be cached (a cached route, Redis on)."""
    if getattr(request.state, _STATE_KEY, None) is None:
        return None
    cache: Cache | None = getattr(request.app.state, "cache", None)
    return cache


async def store_answer(
    request: Request,
    *,
    body: bytes,
    headers: Mapping[str, str],
    generations: Mapping[str, str] | None,
    status_code: int = 200,
) -> None:
    """Cache this answer under the request's key, built from these generation counters."""
    key = getattr(request.state, _STATE_KEY, None)
    cache: Cache | None = getattr(request.app.state, "cache", None)
    if key is None or cache is None or generations is None:
        return
    value = json.dumps({"s": status_code, "b": body.decode(), "h": dict(headers)})
    await cache.store(key, value, generations)


async def answer(
    request: Request,
    response: Response,
    body: bytes,
    generations: Mapping[str, str] | None,
) -> Response:
    """The JSON answer with the headers the route set, cached when `generations` are given."""
    headers = {
        name: value for name, value in response.headers.items() if name.lower() in _KEPT_HEADERS
    }
    if generations is not None:
        await store_answer(request, body=body, headers=headers, generations=generations)
    return Response(content=body, headers=headers, media_type="application/json")
