"""Prometheus metrics. One registry per process; with several workers, prometheus-client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR) lets one scrape see every worker."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
LOGINS = Counter(
    "taskflow_logins_total",
    "Login attempts by outcome",
    ["outcome"],
    registry=REGISTRY,
)
