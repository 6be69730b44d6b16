"""The health routes, the interactive docs and the OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient

from taskflow.main import create_app
from tests.conftest import build_settings
from tests.factories import DEFAULT_PASSWORD, UserFactory

CLOSED_PORT = 1  # nothing listens on port 1 of the loopback


@asynccontextmanager
async def standalone_client(**settings: Any) -> AsyncIterator[AsyncClient]:
    """A client of an app of its own, built from these settings (not the `app` fixture's)."""
    application = create_app(build_settings(**settings))
    async with (
        LifespanManager(application),
        AsyncClient(transport=ASGITransport(app=application), base_url="http://testserver") as http,
    ):
        yield http


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
