"""GET /metrics: Prometheus exposition of requests by route template, latency and the pool."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

REQUESTS = "taskflow_http_requests_total"
LATENCY = "taskflow_http_request_duration_seconds"
POOL_IN_USE = "taskflow_db_pool_connections_in_use"


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample (exact labels), 0 when the series does not exist yet."""
    for family in text_string_to_metric_families(exposition):
        for item in family.samples:
            if item.name == name and item.labels == labels:
                return float(item.value)
    return 0.0


async def scrape(client: AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


async def test_metrics_are_in_prometheus_text_format(client: AsyncClient) -> None:
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "taskflow_http_requests",
        LATENCY,
        POOL_IN_USE,
        "taskflow_cache_hits",
        "taskflow_cache_misses",
        "taskflow_rate_limit_rejections",
        "taskflow_logins",
    } <= names


async def test_a_request_is_counted_under_its_route_template(client: AsyncClient) -> None:
    labels = {"method": "GET", "route": "/api/v1/tasks/{task_id}", "status": "401"}
    before = await scrape(client)

    response = await client.get("/api/v1/tasks/123")

    after = await scrape(client)
    assert response.status_code == 401
    assert sample(after, REQUESTS, **labels) == sample(before, REQUESTS, **labels) + 1
    assert 'route="/api/v1/tasks/123"' not in after


async def test_a_request_is_timed_in_the_latency_histogram(client: AsyncClient) -> None:
    labels = {"method": "GET", "route": "/health/live", "status": "200"}
    before = await scrape(client)

    await client.get("/health/live")

    after = await scrape(client)
    count = f"{LATENCY}_count"
    assert sample(after, count, **labels) == sample(before, count, **labels) + 1
    inf = {**labels, "le": "+Inf"}
    assert (
        sample(after, f"{LATENCY}_bucket", **inf) == sample(before, f"{LATENCY}_bucket", **inf) + 1
    )
    assert sample(after, f"{LATENCY}_sum", **labels) > sample(before, f"{LATENCY}_sum", **labels)
    buckets = [
        item.labels["le"]
        for family in text_string_to_metric_families(after)
        if family.name == LATENCY
        for item in family.samples
        if item.name == f"{LATENCY}_bucket" and item.labels["route"] == "/health/live"
    ]
    assert "0.005" in buckets
    assert "1.0" in buckets


async def test_unmatched_paths_share_one_label(client: AsyncClient) -> None:
    path = f"/api/v1/no-such-thing-{uuid.uuid4().hex}"
    labels = {"method": "GET", "route": "unmatched", "status": "404"}
    before = await scrape(client)

    response = await client.get(path)

    after = await scrape(client)
    assert response.status_code == 404
    assert sample(after, REQUESTS, **labels) == sample(before, REQUESTS, **labels) + 1
    assert path not in after


async def test_unknown_methods_are_counted_as_other(client: AsyncClient) -> None:
    labels = {"method": "other", "route": "/health/live", "status": "405"}
    before = await scrape(client)

    response = await client.request("BREW", "/health/live")

    after = await scrape(client)
    assert response.status_code == 405
    assert sample(after, REQUESTS, **labels) == sample(before, REQUESTS, **labels) + 1
    assert 'method="BREW"' not in after


async def test_a_crash_is_counted_as_500(app: FastAPI, client: AsyncClient) -> None:
    async def crash() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/test-metrics-crash", crash, methods=["GET"])
    labels = {"method": "GET", "route": "/test-metrics-crash", "status": "500"}
    before = await scrape(client)

    response = await client.get("/test-metrics-crash")

    after = await scrape(client)
    assert response.status_code == 500
    assert sample(after, REQUESTS, **labels) == sample(before, REQUESTS, **labels) + 1


async def test_metrics_route_is_not_in_the_openapi_schema(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()

    assert "/metrics" not in spec["paths"]


@pytest.mark.settings(metrics_enabled=False)
async def test_metrics_disabled_is_404(client: AsyncClient) -> None:
    response = await client.get("/metrics")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.postgres
async def test_pool_gauge_counts_connections_checked_out(app: FastAPI, client: AsyncClient) -> None:
    assert not app.state.settings.is_sqlite
    before = sample(await scrape(client), POOL_IN_USE)

    async with app.state.database.engine.connect() as first:
        await first.execute(text("SELECT 1"))
        one = sample(await scrape(client), POOL_IN_USE)
        async with app.state.database.engine.connect() as second:
            await second.execute(text("SELECT 1"))
            two = sample(await scrape(client), POOL_IN_USE)
    after = sample(await scrape(client), POOL_IN_USE)

    assert (one, two, after) == (before + 1, before + 2, before)


async def test_pool_gauge_is_back_after_requests_that_use_the_database(
    client: AsyncClient,
) -> None:
    before = sample(await scrape(client), POOL_IN_USE)

    for _ in range(3):
        assert (await client.get("/health")).status_code == 200
    response = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "wrong-pass-1"}
    )

    assert response.status_code == 401
    assert sample(await scrape(client), POOL_IN_USE) == before


async def test_logins_are_counted_by_outcome(client: AsyncClient) -> None:
    email, password = f"counted-{uuid.uuid4().hex[:8]}@example.com", "right-pass-123"
    registered = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "full_name": "Counted"},
    )
    assert registered.status_code == 201, registered.text
    before = await scrape(client)

    for attempt in ["wrong-pass-1", password, "wrong-pass-2"]:
        await client.post("/api/v1/auth/login", json={"email": email, "password": attempt})
    after = await scrape(client)

    def delta(outcome: str) -> float:
        name = "taskflow_logins_total"
        return sample(after, name, outcome=outcome) - sample(before, name, outcome=outcome)

    assert (delta("success"), delta("failure"), delta("locked")) == (1, 2, 0)


@pytest.mark.settings(lockout_threshold=2)
async def test_a_login_refused_by_a_lockout_is_counted_as_locked(client: AsyncClient) -> None:
    email, password = f"locked-{uuid.uuid4().hex[:8]}@example.com", "right-pass-123"
    registered = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "full_name": "Locked Out"},
    )
    assert registered.status_code == 201, registered.text
    for _ in range(2):
        await client.post("/api/v1/auth/login", json={"email": email, "password": "wrong-pass-1"})
    before = await scrape(client)

    refused = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    after = await scrape(client)

    assert refused.json()["error"] == "account_locked"
    name = "taskflow_logins_total"
    assert sample(after, name, outcome="locked") - sample(before, name, outcome="locked") == 1
    assert sample(after, name, outcome="failure") == sample(before, name, outcome="failure")
