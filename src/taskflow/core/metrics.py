"""Prometheus metrics. One registry per process; with several workers, prometheus-client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR) lets one scrape see every worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import Scope

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "taskflow_http_requests_total",
    "HTTP requests answered",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "taskflow_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
DB_POOL_IN_USE = Gauge(
    "taskflow_db_pool_connections_in_use",
    "Database connections checked out of the pool",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
CACHE_HITS = Counter("taskflow_cache_hits_total", "Reads answered from Redis", registry=REGISTRY)
CACHE_MISSES = Counter(
    "taskflow_cache_misses_total", "Cacheable reads that went to the database", registry=REGISTRY
)
RATE_LIMITED = Counter(
    "taskflow_rate_limit_rejections_total",
    "Requests refused with 429",
    ["limit"],
    registry=REGISTRY,
)
REDIS_OUTAGES = Counter(
    "taskflow_redis_outages_total",
    "Times a worker marked Redis down and served without it",
    registry=REGISTRY,
)
LOGINS = Counter(
    "taskflow_logins_total",
    "Login attempts by outcome",
    ["outcome"],
    registry=REGISTRY,
)

# Methods outside this set are counted as "other", so a client cannot grow the label set.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"


class RequestMetrics:
    """Counts and times each request by method, route template and status.

    The template ("/api/v1/tasks/{task_id}", never the raw path) keeps the label set bounded.
    FastAPI puts the matched route in scope["route"], but a route of an included router
    there carries its path without the include prefixes; the full template is looked up
    once per route object from the app's routes and remembered.
    """

    def __init__(self) -> None:
        # id(route) -> (route, template); holding the route keeps its id from being reused.
        self._templates: dict[int, tuple[object, str]] = {}
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in _KNOWN_METHODS else "other"
        key = (method, self.route_template(scope), status)
        series = self._series.get(key)
        if series is None:
            labels = (key[0], key[1], str(status))
            series = (HTTP_REQUESTS.labels(*labels), HTTP_LATENCY.labels(*labels))
            self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def route_template(self, scope: Scope) -> str:
        # A mounted app (the docs assets) leaves only its endpoint in the scope.
        route = scope.get("route") or scope.get("endpoint")
        if route is None:
            return UNMATCHED_ROUTE
        known = self._templates.get(id(route))
        if known is None:
            self._learn(scope.get("app"))
            known = self._templates.get(id(route))
            if known is None:
                known = (route, getattr(route, "path", None) or UNMATCHED_ROUTE)
                self._templates[id(route)] = known
        return known[1]

    def _learn(self, app: object) -> None:
        routes = getattr(app, "routes", None)
        if routes is None:
            return
        for context in iter_route_contexts(routes):
            route: object = context.original_route
            # path_format: /tasks/{task_id}, without the :int of the path convertor.
            template = context.path_format or UNMATCHED_ROUTE
            if isinstance(route, Mount):
                route, template = route.app, f"{template}/{{path}}"
            self._templates.setdefault(id(route), (route, template))


def exposition(accept: str | None, multiprocess_dir: str | None) -> tuple[bytes, str]:
    """The metrics in the format the scraper asked for, and its content type.

    With several workers (PROMETHEUS_MULTIPROC_DIR set) every worker writes its values to
    files there and one scrape, answered by any worker, sums them all.
    """
    encoder, content_type = choose_encoder(accept or "")
    if multiprocess_dir is None:
        return encoder(REGISTRY), content_type
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    return encoder(registry), content_type


def metrics_endpoint(multiprocess_dir: str | None) -> Callable[[Request], Response]:
    """GET /metrics. A plain def, so FastAPI runs it in a thread: gathering may read files."""

    def metrics(request: Request) -> Response:
        body, content_type = exposition(request.headers.get("accept"), multiprocess_dir)
        return Response(body, media_type=content_type)

    return metrics
