"""The access log line of each request, and CORS for browser clients."""

from __future__ import annotations

import logging

import pytest
from httpx import AsyncClient

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.support.api import ERROR_FIELDS, event_dicts

ALLOWED_ORIGIN = "https://app.example.com"


# --- access log ----------------------------------------------------------------------------


async def test_one_access_line_per_request_with_user_id(
    client: AsyncClient, users: UserFactory, caplog: pytest.LogCaptureFixture
) -> None:
    user = await users()
    caplog.set_level(logging.INFO, logger="taskflow.access")

    response = await client.get("/api/v1/users/me", params={"x": "1"}, headers=users.headers(user))

    request_id = response.headers["X-Request-ID"]
    lines = [e for e in event_dicts(caplog, "taskflow.access") if e.get("request_id") == request_id]
    assert len(lines) == 1, event_dicts(caplog, "taskflow.access")
    [line] = lines
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/users/me"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], int | float)
    assert line["duration_ms"] >= 0
    assert line["user_id"] == user.id


async def test_access_line_of_an_anonymous_failure(
    client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="taskflow.access")

    response = await client.post(
        "/api/v1/auth/register", json={}, headers={"X-Request-ID": "anon-1"}
    )

    assert response.status_code == 422
    lines = [e for e in event_dicts(caplog, "taskflow.access") if e.get("request_id") == "anon-1"]
    assert len(lines) == 1
    [line] = lines
    assert (line["method"], line["path"], line["status"]) == ("POST", "/api/v1/auth/register", 422)
    assert line.get("user_id") is None


async def test_access_line_never_holds_the_credentials(
    client: AsyncClient, users: UserFactory, caplog: pytest.LogCaptureFixture
) -> None:
    user = await users()
    headers = users.headers(user)
    token = headers["Authorization"].removeprefix("Bearer ")
    caplog.set_level(logging.INFO, logger="taskflow.access")

    await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    await client.get("/api/v1/users/me", headers=headers)

    logged = repr(event_dicts(caplog, "taskflow.access"))
    assert DEFAULT_PASSWORD not in logged
    assert token not in logged


# --- CORS ----------------------------------------------------------------------------------


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, content-type, x-api-key",
    }


def header_set(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",") if item.strip()}


@pytest.mark.settings(cors_origins=[ALLOWED_ORIGIN])
async def test_cors_preflight_from_an_allowed_origin_is_allowed(client: AsyncClient) -> None:
    response = await client.options("/api/v1/users/me", headers=preflight_headers(ALLOWED_ORIGIN))

    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "PATCH" in header_set(response.headers["Access-Control-Allow-Methods"]) | {
        m.upper() for m in header_set(response.headers["Access-Control-Allow-Methods"])
    }
    allowed_headers = header_set(response.headers["Access-Control-Allow-Headers"])
    assert {"authorization", "content-type", "x-api-key"} <= allowed_headers
    assert response.headers.get("Access-Control-Allow-Credentials") == "true"


@pytest.mark.settings(cors_origins=[ALLOWED_ORIGIN])
async def test_cors_response_to_an_allowed_origin_exposes_paging_and_request_id_headers(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()

    response = await client.get(
        "/api/v1/users", headers={"Origin": ALLOWED_ORIGIN, **users.headers(admin)}
    )

    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    exposed = header_set(response.headers["Access-Control-Expose-Headers"])
    assert {"x-total-count", "link", "x-request-id"} <= exposed


@pytest.mark.settings(cors_origins=[ALLOWED_ORIGIN])
async def test_cors_preflight_from_another_origin_is_refused(client: AsyncClient) -> None:
    response = await client.options(
        "/api/v1/users/me", headers=preflight_headers("https://evil.example.com")
    )

    assert response.status_code >= 400
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.settings(cors_origins=[ALLOWED_ORIGIN])
async def test_cors_refused_preflight_uses_the_error_envelope(client: AsyncClient) -> None:
    response = await client.options(
        "/api/v1/users/me", headers=preflight_headers("https://evil.example.com")
    )

    assert response.status_code in {400, 403}, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == ERROR_FIELDS
    assert isinstance(body["error"], str)
    assert body["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.settings(cors_origins=[ALLOWED_ORIGIN])
async def test_cors_response_to_another_origin_has_no_allow_origin(client: AsyncClient) -> None:
    response = await client.get("/health/live", headers={"Origin": "https://evil.example.com"})

    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_without_cors_origins_no_cross_origin_access_is_granted(client: AsyncClient) -> None:
    simple = await client.get("/health/live", headers={"Origin": ALLOWED_ORIGIN})
    preflight = await client.options("/api/v1/users/me", headers=preflight_headers(ALLOWED_ORIGIN))

    assert "Access-Control-Allow-Origin" not in simple.headers
    assert "Access-Control-Allow-Origin" not in preflight.headers


@pytest.mark.settings(cors_origins=["*"])
async def test_cors_wildcard_never_allows_credentials(client: AsyncClient) -> None:
    origin = "https://anywhere.example.org"

    preflight = await client.options(
        "/api/v1/users/me", headers={**preflight_headers(origin), "Cookie": "session=1"}
    )
    simple = await client.get("/health/live", headers={"Origin": origin, "Cookie": "session=1"})

    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["Access-Control-Allow-Origin"] in {"*", origin}
    assert simple.headers["Access-Control-Allow-Origin"] in {"*", origin}
    for response in (preflight, simple):
        assert response.headers.get("Access-Control-Allow-Credentials") != "true"
