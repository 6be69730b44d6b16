"""The edges every request crosses: error envelope, request ids, logs, health, docs, CORS."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response

from taskflow.main import create_app
from tests.conftest import build_settings
from tests.factories import DEFAULT_PASSWORD, UserFactory, unique_email

ERROR_FIELDS = {"detail", "error", "request_id"}
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
ALLOWED_ORIGIN = "https://app.example.com"
CLOSED_PORT = 1  # nothing listens on port 1 of the loopback


def assert_envelope(response: Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_FIELDS, body
    assert body["error"] == error
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def event_dicts(caplog: pytest.LogCaptureFixture, logger: str) -> list[dict[str, Any]]:
    """The structlog event dicts logged through the standard library by one logger."""
    return [
        record.msg
        for record in caplog.records
        if record.name == logger and isinstance(record.msg, dict)
    ]


@pytest.fixture
async def crashing_app(app: FastAPI) -> FastAPI:
    """The app with one extra route that fails with an unexpected exception."""

    async def crash() -> None:
        raise RuntimeError("boom: secret-internal-detail at /srv/taskflow/db.py")

    # The app is reused across tests with the same settings: add the route once.
    if not any(getattr(route, "path", None) == "/test-crash" for route in app.router.routes):
        app.add_api_route("/test-crash", crash, methods=["GET"])
    return app


@asynccontextmanager
async def standalone_client(**settings: Any) -> AsyncIterator[AsyncClient]:
    """A client of an app of its own, built from these settings (not the `app` fixture's)."""
    application = create_app(build_settings(**settings))
    async with (
        LifespanManager(application),
        AsyncClient(transport=ASGITransport(app=application), base_url="http://testserver") as http,
    ):
        yield http


# --- the error envelope --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/api/v1/users/me", None, 401, "not_authenticated"),
        ("GET", "/api/v1/no-such-route", None, 404, "not_found"),
        ("GET", "/no-such-page", None, 404, "not_found"),
        ("DELETE", "/health", None, 405, "method_not_allowed"),
        ("PUT", "/api/v1/users/me", {}, 405, "method_not_allowed"),
        ("POST", "/api/v1/auth/register", {}, 422, "validation_error"),
        (
            "POST",
            "/api/v1/auth/login",
            {"email": "a@b.co", "password": "x"},
            401,
            "invalid_credentials",
        ),
        ("POST", "/api/v1/auth/refresh", {"refresh_token": "nope"}, 401, "invalid_token"),
        ("POST", "/api/v1/auth/verify-email", {"token": "nope"}, 400, "invalid_token"),
    ],
    ids=[
        "401",
        "404-api",
        "404-root",
        "405-health",
        "405-api",
        "422",
        "login-401",
        "refresh-401",
        "400",
    ],
)
async def test_error_bodies_use_the_envelope(
    client: AsyncClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
    error: str,
) -> None:
    response = await client.request(method, path, json=body)

    assert_envelope(response, status, error)


async def test_errors_of_a_known_principal_use_the_envelope(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    other = await users()
    headers = users.headers(user)

    forbidden = await client.get("/api/v1/users", headers=headers)
    not_found = await client.get(f"/api/v1/users/{other.id}", headers=headers)
    conflict = await client.patch("/api/v1/users/me", json={"email": other.email}, headers=headers)

    assert isinstance(assert_envelope(forbidden, 403, "forbidden")["detail"], str)
    assert isinstance(assert_envelope(not_found, 404, "not_found")["detail"], str)
    assert isinstance(assert_envelope(conflict, 409, "email_taken")["detail"], str)


async def test_401_carries_a_bearer_challenge(client: AsyncClient) -> None:
    missing = await client.get("/api/v1/users/me")
    bad_token = await client.get("/api/v1/users/me", headers={"Authorization": "Bearer not.a.jwt"})

    for response in (missing, bad_token):
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_405_says_which_methods_are_allowed(client: AsyncClient) -> None:
    response = await client.delete("/health/live")

    assert_envelope(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


async def test_422_detail_lists_fields_without_echoing_the_input(client: AsyncClient) -> None:
    password = "OnlyLettersSecretPassphrase"
    smuggled = "smuggled-hash-value-123"

    response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "not-an-email",
            "password": password,
            "full_name": "X",
            "password_hash": smuggled,
        },
    )

    body = assert_envelope(response, 422, "validation_error")
    assert isinstance(body["detail"], list)
    for item in body["detail"]:
        assert {"loc", "msg", "type"} <= set(item) <= {"loc", "msg", "type", "ctx"}, item
        assert isinstance(item["loc"], list)
        assert isinstance(item["msg"], str)
        assert isinstance(item["type"], str)
    locs = [item["loc"] for item in body["detail"]]
    assert ["body", "email"] in locs
    assert ["body", "password"] in locs
    assert ["body", "password_hash"] in locs
    assert password not in response.text
    assert smuggled not in response.text
    assert "not-an-email" not in response.text


async def test_422_for_a_too_long_password_does_not_echo_it(client: AsyncClient) -> None:
    password = "Secret1" * 20

    response = await client.post(
        "/api/v1/auth/register",
        json={"email": unique_email(), "password": password, "full_name": "X"},
    )

    body = assert_envelope(response, 422, "validation_error")
    assert [item["loc"] for item in body["detail"]] == [["body", "password"]]
    assert "Secret1" not in response.text


@pytest.mark.parametrize(
    "body",
    [b'{"email": "a@b.co", "password": "hunter2-in-broken-json"', b"{", b"\xff\xfe"],
)
async def test_a_body_that_is_not_json_is_400_bad_request(client: AsyncClient, body: bytes) -> None:
    response = await client.post(
        "/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"}
    )

    assert assert_envelope(response, 400, "bad_request")["detail"] == (
        "The request body is not valid JSON"
    )
    assert "hunter2" not in response.text


async def test_json_of_the_wrong_shape_is_still_422(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", content=b"[1, 2]", headers={"Content-Type": "application/json"}
    )

    body = assert_envelope(response, 422, "validation_error")
    assert body["detail"][0]["loc"] == ["body"]


async def test_unhandled_exception_is_a_clean_500(
    crashing_app: FastAPI, client: AsyncClient
) -> None:
    response = await client.get("/test-crash")

    body = assert_envelope(response, 500, "internal_error")
    assert isinstance(body["detail"], str)
    for leak in ("Traceback", "RuntimeError", "secret-internal-detail", "/srv/", 'File "'):
        assert leak not in response.text


async def test_unhandled_exception_is_logged_with_the_request_id(
    crashing_app: FastAPI, client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    response = await client.get("/test-crash", headers={"X-Request-ID": "crash-req-1"})

    assert response.status_code == 500
    assert response.json()["request_id"] == "crash-req-1"
    crashes = [
        (record, record.msg)
        for record in caplog.records
        if isinstance(record.msg, dict)
        and record.msg.get("request_id") == "crash-req-1"
        and record.levelno >= logging.ERROR
    ]
    assert len(crashes) == 1, [record.msg for record in caplog.records]
    record, event = crashes[0]
    assert event["path"] == "/test-crash"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    access = [e for e in event_dicts(caplog, "taskflow.access") if e["request_id"] == "crash-req-1"]
    assert [line["status"] for line in access] == [500]


# --- request ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/health/live", None, 200),
        ("GET", "/health", None, 200),
        ("GET", "/openapi.json", None, 200),
        ("GET", "/docs", None, 200),
        ("GET", "/docs/assets/swagger-ui.css", None, 200),
        ("POST", "/api/v1/auth/logout", {"refresh_token": "unknown"}, 204),
        ("POST", "/api/v1/auth/password-reset", {"email": "nobody@example.com"}, 202),
        ("GET", "/api/v1/users/me", None, 401),
        ("GET", "/nowhere", None, 404),
        ("POST", "/api/v1/auth/register", {}, 422),
    ],
)
async def test_every_response_has_a_request_id(
    client: AsyncClient, method: str, path: str, body: dict[str, Any] | None, status: int
) -> None:
    response = await client.request(method, path, json=body)

    assert response.status_code == status, response.text
    assert SANE_REQUEST_ID.fullmatch(response.headers["X-Request-ID"])


async def test_request_ids_are_unique_per_request(client: AsyncClient) -> None:
    ids = {(await client.get("/health/live")).headers["X-Request-ID"] for _ in range(5)}

    assert len(ids) == 5


@pytest.mark.parametrize(
    "request_id", ["abc-123", "req.1:2_3", "A" * 128, "0"], ids=["dash", "dot-colon", "128", "one"]
)
async def test_a_sane_caller_request_id_is_echoed(client: AsyncClient, request_id: str) -> None:
    ok = await client.get("/health/live", headers={"X-Request-ID": request_id})
    failed = await client.get("/api/v1/users/me", headers={"X-Request-ID": request_id})

    assert ok.headers["X-Request-ID"] == request_id
    assert failed.headers["X-Request-ID"] == request_id
    assert failed.json()["request_id"] == request_id


@pytest.mark.parametrize(
    "request_id",
    ["A" * 129, "has space", "semi;colon", "<script>alert(1)</script>", 'quote"d', "a/b", ""],
    ids=["too-long", "space", "semicolon", "html", "quote", "slash", "empty"],
)
async def test_an_insane_caller_request_id_is_replaced(
    client: AsyncClient, request_id: str
) -> None:
    response = await client.get("/api/v1/users/me", headers={"X-Request-ID": request_id})

    replaced = response.headers["X-Request-ID"]
    assert replaced != request_id
    assert SANE_REQUEST_ID.fullmatch(replaced)
    assert response.json()["request_id"] == replaced
    if request_id:
        assert request_id not in response.text


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


# --- health --------------------------------------------------------------------------------


async def test_health_without_redis_reports_redis_disabled(client: AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "redis": "disabled"},
    }


@pytest.mark.settings(redis_url="from-fixture")
async def test_health_with_redis_reports_redis_ok(client: AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "redis": "ok"},
    }


@pytest.mark.settings(redis_url=f"redis://127.0.0.1:{CLOSED_PORT}/0")
async def test_health_with_unreachable_redis_is_200_degraded_naming_redis(
    client: AsyncClient,
) -> None:
    response = await client.get("/health")

    # Redis is optional: the service runs without it, so a load balancer must keep it.
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checks"] == {"database": "ok", "migrations": "ok", "redis": "degraded"}
    assert body["status"] == "degraded"
    assert "X-Request-ID" in response.headers


async def test_health_with_unreachable_database_is_503_naming_the_database() -> None:
    async with standalone_client(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{CLOSED_PORT}/taskflow"
    ) as http:
        response = await http.get("/health")
        live = await http.get("/health/live")

    assert response.status_code == 503, response.text
    body = response.json()
    assert body["checks"] == {"database": "error", "migrations": "unknown", "redis": "disabled"}
    assert body["status"] != "ok"
    assert "127.0.0.1" not in response.text
    assert live.status_code == 200


async def test_liveness_is_200(client: AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


# --- docs and OpenAPI ----------------------------------------------------------------------


async def test_docs_load_swagger_ui_from_local_assets_only(client: AsyncClient) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "SwaggerUIBundle" in html
    assert re.search(r"https?://", html) is None, html
    assert "cdn" not in html.lower()
    assets = set(re.findall(r'(?:src|href)="([^"]+)"', html))
    assert "/docs/assets/swagger-ui-bundle.js" in assets
    assert "/docs/assets/swagger-ui.css" in assets
    assert all(asset.startswith("/docs/assets/") for asset in assets), assets


async def test_docs_assets_are_served(client: AsyncClient) -> None:
    html = (await client.get("/docs")).text
    assets = set(re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', html))
    assert assets

    for asset in sorted(assets):
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert response.content, asset
        content_type = response.headers["content-type"]
        if asset.endswith(".js"):
            assert "javascript" in content_type, (asset, content_type)
        elif asset.endswith(".css"):
            assert content_type.startswith("text/css"), (asset, content_type)


async def test_docs_oauth2_redirect_page_is_served_offline(client: AsyncClient) -> None:
    response = await client.get("/docs/oauth2-redirect")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert re.search(r"<script[^>]+src=\"https?://", response.text) is None


async def test_openapi_declares_oauth2_password_flow_and_api_key_header(
    client: AsyncClient,
) -> None:
    response = await client.get("/openapi.json")

    assert response.status_code == 200, response.text
    spec = response.json()
    schemes = spec["components"]["securitySchemes"]
    oauth2 = [name for name, s in schemes.items() if s["type"] == "oauth2"]
    api_key = [name for name, s in schemes.items() if s["type"] == "apiKey"]
    assert len(oauth2) == 1, schemes
    assert len(api_key) == 1, schemes
    assert schemes[oauth2[0]]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert schemes[api_key[0]]["in"] == "header"
    assert schemes[api_key[0]]["name"] == "X-API-Key"
    me_security = spec["paths"]["/api/v1/users/me"]["get"]["security"]
    assert {oauth2[0]: []} in me_security
    assert {api_key[0]: []} in me_security
    assert "post" in spec["paths"]["/api/v1/auth/token"]


async def test_oauth2_token_url_logs_in_with_a_password_form(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()

    response = await client.post(
        "/api/v1/auth/token", data={"username": user.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "bearer"
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert me.json()["id"] == user.id


@pytest.mark.parametrize("username", ["a\x00b@example.com", "\x00", "ann@example.com\x00"])
async def test_a_form_username_with_nul_is_an_unknown_email_not_a_server_error(
    client: AsyncClient, users: UserFactory, username: str
) -> None:
    await users(email="ann@example.com")

    response = await client.post(
        "/api/v1/auth/token", data={"username": username, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_credentials"


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
