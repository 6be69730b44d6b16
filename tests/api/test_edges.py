"""The edges of the service: security headers, body limit, gzip, trusted hosts, docs, CORS."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response

from taskflow import __version__
from taskflow.config import ConfigurationError, load_settings
from tests.factories import DomainFactory, unique_email
from tests.support.api import assert_error

ALLOWED_ORIGIN = "https://app.example.com"
SMALL_LIMIT = 1024  # the smallest MAX_BODY_BYTES the settings accept
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=63072000; includeSubDomains"
DOCS_PATHS = [
    "/docs",
    "/redoc",
    "/openapi.json",
    "/docs/assets/swagger-ui.css",
    "/docs/assets/redoc.standalone.js",
    "/docs/oauth2-redirect",
]


def csp_directives(policy: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def inline_script_hash(html: str) -> str:
    [script] = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    return f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"


class CountingBody:
    """A streamed request body that counts the chunks the server has pulled from it."""

    def __init__(self, chunks: int, chunk_size: int) -> None:
        self.total = chunks
        self.chunk = b"x" * chunk_size
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.total):
            self.sent += 1
            yield self.chunk


# --- security headers ----------------------------------------------------------------------


def assert_security_headers(response: Response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Security-Policy"] == API_CSP
    assert "Server" not in response.headers
    assert len(response.headers.get_list("Content-Security-Policy")) == 1


@pytest.mark.settings(max_body_bytes=SMALL_LIMIT)
async def test_every_kind_of_response_has_the_security_headers(
    crashing_app: FastAPI, client: AsyncClient
) -> None:
    responses = {
        200: await client.get("/health/live"),
        404: await client.get("/no-such-page"),
        405: await client.delete("/health/live"),
        422: await client.post("/api/v1/auth/register", json={}),
        413: await client.post("/api/v1/auth/register", content=b"x" * (SMALL_LIMIT + 1)),
        500: await client.get("/test-crash"),
    }

    for status, response in responses.items():
        assert response.status_code == status, (status, response.text)
        assert_security_headers(response)
    assert responses[500].json()["error"] == "internal_error"
    assert "Strict-Transport-Security" not in responses[200].headers


@pytest.mark.settings(environment="production")
async def test_production_adds_strict_transport_security(client: AsyncClient) -> None:
    ok = await client.get("/health/live")
    missing = await client.get("/no-such-page")

    for response in (ok, missing):
        assert response.headers["Strict-Transport-Security"] == HSTS
        assert_security_headers(response)


@pytest.mark.settings(environment="development")
async def test_development_has_no_strict_transport_security(client: AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


async def test_api_policy_allows_no_script_style_or_connection(client: AsyncClient) -> None:
    response = await client.get("/api/v1/users/me")

    directives = csp_directives(response.headers["Content-Security-Policy"])
    assert directives["default-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    for fallback_only in ("script-src", "style-src", "img-src", "connect-src"):
        assert fallback_only not in directives


async def test_docs_policy_lets_swagger_ui_run_its_own_scripts_only(client: AsyncClient) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    directives = csp_directives(response.headers["Content-Security-Policy"])
    assert directives["default-src"] == ["'none'"]
    # The bundle from this origin, and the page's inline start-up script by its hash.
    assert directives["script-src"] == ["'self'", inline_script_hash(response.text)]
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "worker-src" not in directives
    scripts = re.findall(r'<script src="([^"]+)"', response.text)
    assert scripts
    assert all(src.startswith("/docs/assets/") for src in scripts)


async def test_redoc_policy_adds_workers_from_blobs_and_no_inline_script(
    client: AsyncClient,
) -> None:
    response = await client.get("/redoc")

    assert response.status_code == 200
    directives = csp_directives(response.headers["Content-Security-Policy"])
    assert directives["default-src"] == ["'none'"]
    # ReDoc's search index runs in a worker it makes from a blob; the page has no inline script.
    assert directives["worker-src"] == ["blob:"]
    assert directives["script-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    scripts = re.findall(r'<script src="([^"]+)"', response.text)
    assert scripts == ["/docs/assets/redoc.standalone.js"]
    assert "https://" not in response.text


async def test_oauth2_redirect_page_policy_allows_its_inline_script(client: AsyncClient) -> None:
    response = await client.get("/docs/oauth2-redirect")

    directives = csp_directives(response.headers["Content-Security-Policy"])
    assert directives["script-src"] == ["'self'", inline_script_hash(response.text)]


@pytest.mark.parametrize("asset", ["swagger-ui-bundle.js", "redoc.standalone.js", "favicon.png"])
async def test_docs_assets_get_the_api_policy(client: AsyncClient, asset: str) -> None:
    response = await client.get(f"/docs/assets/{asset}")

    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == API_CSP


async def test_docs_show_operation_ids(client: AsyncClient) -> None:
    response = await client.get("/docs")

    # Generated clients name their methods by operation id, so the docs show it.
    assert '"displayOperationId": true' in response.text


# --- request body limit --------------------------------------------------------------------


@pytest.mark.settings(max_body_bytes=SMALL_LIMIT)
async def test_body_over_the_limit_by_content_length_is_refused_unread(
    client: AsyncClient,
) -> None:
    body = CountingBody(chunks=64, chunk_size=256)

    response = await client.post(
        "/api/v1/auth/register",
        content=body,
        headers={"Content-Length": str(64 * 256), "Content-Type": "application/json"},
    )

    body_json = assert_error(response, 413, "payload_too_large")
    assert str(SMALL_LIMIT) in body_json["detail"]
    assert response.headers["Connection"] == "close"
    assert body.sent == 0


@pytest.mark.settings(max_body_bytes=SMALL_LIMIT)
async def test_streamed_body_over_the_limit_stops_at_the_limit(client: AsyncClient) -> None:
    body = CountingBody(chunks=64, chunk_size=256)

    response = await client.post(
        "/api/v1/auth/register", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.request.headers
    assert_error(response, 413, "payload_too_large")
    assert response.headers["Connection"] == "close"
    # Four chunks reach the limit; the fifth passes it and reading stops there.
    assert body.sent == SMALL_LIMIT // 256 + 1


@pytest.mark.settings(max_body_bytes=SMALL_LIMIT)
async def test_streamed_body_within_the_limit_is_served(client: AsyncClient) -> None:
    payload = json.dumps(
        {"email": unique_email(), "password": "s3cret-pass", "full_name": "Streamed"}
    ).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 16):
            yield payload[start : start + 16]

    response = await client.post(
        "/api/v1/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 201, response.text


@pytest.mark.settings(max_body_bytes=SMALL_LIMIT)
async def test_body_of_exactly_the_limit_is_read_and_one_more_byte_is_not(
    client: AsyncClient,
) -> None:
    def login_body(size: int) -> bytes:
        stem = b'{"email": "a@b.co", "password": "'
        return stem + b"p" * (size - len(stem) - 2) + b'"}'

    at_limit = await client.post(
        "/api/v1/auth/login",
        content=login_body(SMALL_LIMIT),
        headers={"Content-Type": "application/json"},
    )
    over = await client.post(
        "/api/v1/auth/login",
        content=login_body(SMALL_LIMIT + 1),
        headers={"Content-Type": "application/json"},
    )

    assert at_limit.status_code in {401, 422}, at_limit.text
    assert_error(over, 413, "payload_too_large")


@pytest.mark.settings(max_body_bytes=SMALL_LIMIT, cors_origins=[ALLOWED_ORIGIN])
async def test_413_carries_cors_headers_so_a_browser_can_read_it(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        content=b"x" * (SMALL_LIMIT + 1),
        headers={"Origin": ALLOWED_ORIGIN},
    )

    assert_error(response, 413, "payload_too_large")
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN


# --- gzip ----------------------------------------------------------------------------------


async def test_large_list_is_gzipped_when_the_client_accepts_it(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    await make.tasks(project, 40)

    gzipped = await client.get(
        "/api/v1/tasks",
        params={"limit": 100},
        headers={**make.headers(owner), "Accept-Encoding": "gzip"},
    )
    plain = await client.get(
        "/api/v1/tasks",
        params={"limit": 100},
        headers={**make.headers(owner), "Accept-Encoding": "identity"},
    )

    assert gzipped.status_code == 200, gzipped.text
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert "accept-encoding" in gzipped.headers["Vary"].lower()
    assert len(gzipped.json()) == 40
    assert int(gzipped.headers["Content-Length"]) < len(plain.content)
    assert "Content-Encoding" not in plain.headers
    assert plain.json() == gzipped.json()


async def test_gzipped_body_is_real_gzip(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)
    await make.tasks(project, 40)

    async with client.stream(
        "GET",
        "/api/v1/tasks",
        params={"limit": 100},
        headers={**make.headers(owner), "Accept-Encoding": "gzip"},
    ) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])

    assert len(json.loads(gzip.decompress(raw))) == 40


async def test_small_responses_are_not_gzipped(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)
    await make.tasks(project, 3)

    one_task = await client.get(
        "/api/v1/tasks",
        params={"limit": 1},
        headers={**make.headers(owner), "Accept-Encoding": "gzip"},
    )
    live = await client.get("/health/live", headers={"Accept-Encoding": "gzip"})

    for response in (one_task, live):
        assert response.status_code == 200, response.text
        assert len(response.content) < 1000
        assert "Content-Encoding" not in response.headers


# --- trusted hosts -------------------------------------------------------------------------


@pytest.mark.settings(trusted_hosts="api.example.com, *.example.org")
@pytest.mark.parametrize(
    "host",
    [
        "api.example.com",
        "API.Example.COM",
        "api.example.com:8443",
        "a.example.org",
        "b.c.example.org",
    ],
)
async def test_trusted_hosts_are_served(client: AsyncClient, host: str) -> None:
    response = await client.get("/health/live", headers={"Host": host})

    assert response.status_code == 200, response.text


@pytest.mark.settings(trusted_hosts="api.example.com, *.example.org")
@pytest.mark.parametrize(
    "host",
    ["evil.com", "example.org", "api.example.com.evil.com", "notexample.org", "[::1]:8000"],
)
async def test_other_hosts_get_400_invalid_host(client: AsyncClient, host: str) -> None:
    response = await client.get("/health/live", headers={"Host": host})

    body = assert_error(response, 400, "invalid_host")
    assert isinstance(body["detail"], str)
    assert_security_headers(response)


async def test_without_trusted_hosts_any_host_is_served(client: AsyncClient) -> None:
    response = await client.get("/health/live", headers={"Host": "anything.example.net"})

    assert response.status_code == 200


@pytest.mark.settings(trusted_hosts="*")
async def test_a_star_trusts_every_host(client: AsyncClient) -> None:
    response = await client.get("/health/live", headers={"Host": "anything.example.net"})

    assert response.status_code == 200


@pytest.mark.parametrize("pattern", ["api.*.example.com", "*example.com", "**.example.com"])
def test_a_malformed_wildcard_is_a_configuration_error_naming_trusted_hosts(
    pattern: str,
) -> None:
    with pytest.raises(ConfigurationError, match="TRUSTED_HOSTS") as raised:
        load_settings(_env_file=None, trusted_hosts=f"api.example.com,{pattern}")
    assert "\n" not in str(raised.value)


# --- docs in production --------------------------------------------------------------------


@pytest.mark.settings(environment="production")
@pytest.mark.parametrize("path", DOCS_PATHS)
async def test_docs_are_off_in_production(client: AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert_error(response, 404, "not_found")


@pytest.mark.settings(environment="production", docs_enabled=True)
@pytest.mark.parametrize("path", DOCS_PATHS)
async def test_docs_enabled_serves_docs_in_production(client: AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 200, response.text


@pytest.mark.settings(environment="development", docs_enabled=False)
async def test_docs_disabled_turns_docs_off_in_development(client: AsyncClient) -> None:
    docs = await client.get("/docs")
    redoc = await client.get("/redoc")
    schema = await client.get("/openapi.json")

    assert_error(docs, 404, "not_found")
    assert_error(redoc, 404, "not_found")
    assert_error(schema, 404, "not_found")


# --- the root --------------------------------------------------------------------------------


async def test_root_redirects_to_the_docs_where_they_are_served(client: AsyncClient) -> None:
    response = await client.get("/")

    assert response.status_code == 307
    assert response.headers["Location"] == "/docs"
    assert response.headers["Content-Security-Policy"] == API_CSP


@pytest.mark.settings(environment="production")
async def test_root_without_docs_names_the_api_its_version_and_links(client: AsyncClient) -> None:
    response = await client.get("/")

    assert response.status_code == 200
    assert response.json() == {
        "name": "TaskFlow",
        "version": __version__,
        "links": {"health": "/health", "liveness": "/health/live", "metrics": "/metrics"},
    }
    for link in response.json()["links"].values():
        assert (await client.get(link)).status_code == 200, link


@pytest.mark.settings(docs_enabled=False, metrics_enabled=False)
async def test_root_without_docs_or_metrics_links_only_what_is_served(
    client: AsyncClient,
) -> None:
    response = await client.get("/")

    assert response.status_code == 200
    assert response.json()["links"] == {"health": "/health", "liveness": "/health/live"}


async def test_root_is_not_an_operation_of_the_document(client: AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()

    assert "/" not in schema["paths"]


# --- CORS ----------------------------------------------------------------------------------


@pytest.mark.settings(cors_origins=[ALLOWED_ORIGIN])
async def test_cors_exposes_paging_etag_request_id_and_rate_limit_headers(
    client: AsyncClient,
) -> None:
    response = await client.get("/health/live", headers={"Origin": ALLOWED_ORIGIN})

    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    exposed = {
        item.strip().lower()
        for item in response.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert exposed >= {
        "x-total-count",
        "link",
        "etag",
        "x-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "retry-after",
    }
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.settings(cors_origins=["*"])
async def test_cors_wildcard_origin_never_comes_with_credentials(client: AsyncClient) -> None:
    response = await client.get(
        "/health/live", headers={"Origin": "https://any.example.net", "Cookie": "a=1"}
    )

    assert response.headers["Access-Control-Allow-Origin"] in {"*", "https://any.example.net"}
    assert response.headers.get("Access-Control-Allow-Credentials") != "true"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/users/me", 200),
        ("GET", "/api/v1/tasks", 200),
        ("GET", "/api/v1/projects", 200),
        ("GET", "/api/v1/nothing-here", 404),
    ],
)
async def test_routes_are_found_when_the_app_is_served_under_a_root_path(
    app: FastAPI, make: DomainFactory, method: str, path: str, status: int
) -> None:
    # A server or a proxy that mounts the app under a prefix passes it as the root path:
    # each router must still know its own routes under it.
    user = await make()
    transport = ASGITransport(app=app, root_path="/behind/proxy")
    async with AsyncClient(transport=transport, base_url="http://testserver") as mounted:
        response = await mounted.request(method, f"/behind/proxy{path}", headers=make.headers(user))
    assert response.status_code == status, response.text
