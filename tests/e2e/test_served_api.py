"""The embedded default as `make run` serves it: a real process, real HTTP, real SMTP."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.support.mailbox import Mailbox
from tests.support.server import RunningServer


async def test_account_lifecycle_over_real_http(
    sqlite_server: RunningServer, mailbox: Mailbox
) -> None:
    email, password = "e2e-user@example.com", "first-pass-1"
    async with httpx.AsyncClient(base_url=sqlite_server.base_url, timeout=10) as http:
        registered = await http.post(
            "/api/v1/auth/register",
            json={"email": email, "password": password, "full_name": "End To End"},
        )
        assert registered.status_code == 201, registered.text

        verify_token = (await mailbox.wait_for(email)).link_token("verify-email")
        assert (
            await http.post("/api/v1/auth/verify-email", json={"token": verify_token})
        ).status_code == 204

        login = await http.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        tokens = login.json()
        me = await http.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.status_code == 200
        assert me.json()["is_verified"] is True

        rotated = await http.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert rotated.status_code == 200
        new_refresh = rotated.json()["refresh_token"]
        assert new_refresh != tokens["refresh_token"]

        assert (
            await http.post("/api/v1/auth/logout", json={"refresh_token": new_refresh})
        ).status_code == 204
        after_logout = await http.post("/api/v1/auth/refresh", json={"refresh_token": new_refresh})
        assert after_logout.status_code == 401

        await http.post("/api/v1/auth/password-reset", json={"email": email})
        reset_token = (await mailbox.wait_for(email, count=2)).link_token("reset-password")
        confirmed = await http.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": reset_token, "new_password": "second-pass-2"},
        )
        assert confirmed.status_code == 204
        relogin = await http.post(
            "/api/v1/auth/login", json={"email": email, "password": "second-pass-2"}
        )
        assert relogin.status_code == 200


async def test_one_json_access_line_per_request_with_the_request_id(
    sqlite_server: RunningServer,
) -> None:
    async with httpx.AsyncClient(base_url=sqlite_server.base_url, timeout=10) as http:
        response = await http.get("/health", headers={"X-Request-ID": "e2e-trace-42"})
    assert response.headers["X-Request-ID"] == "e2e-trace-42"

    def access_lines() -> list[dict[str, object]]:
        lines = [json.loads(line) for line in sqlite_server.log().splitlines() if line[:1] == "{"]
        return [
            line
            for line in lines
            if line.get("event") == "request" and line.get("request_id") == "e2e-trace-42"
        ]

    # The line is written once the response has gone out, so it may trail the response.
    for _ in range(250):
        if access_lines():
            break
        await asyncio.sleep(0.02)
    access = access_lines()
    assert len(access) == 1
    assert access[0]["path"] == "/health"
    assert access[0]["status"] == 200
    assert access[0]["duration_ms"] >= 0


async def test_docs_pages_load_only_local_assets(sqlite_server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=sqlite_server.base_url, timeout=10) as http:
        assets = {
            "/docs": ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"),
            "/redoc": ("/docs/assets/redoc.standalone.js",),
        }
        for path, page_assets in assets.items():
            page = await http.get(path)
            assert page.status_code == 200, path
            assert "https://" not in page.text and "http://" not in page.text, path
            for asset in page_assets:
                assert asset in page.text, (path, asset)
                loaded = await http.get(asset)
                assert loaded.status_code == 200, asset
                assert len(loaded.content) > 10_000
        schema = (await http.get("/openapi.json")).json()
        assert "/api/v1/auth/login" in schema["paths"]
