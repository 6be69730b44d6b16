"""The error envelope every failure answers with, and the request id that ties it to the logs."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from tests.factories import UserFactory, unique_email
from tests.support.api import assert_error, event_dicts

SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


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

    assert_error(response, status, error)


async def test_errors_of_a_known_principal_use_the_envelope(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    other = await users()
    headers = users.headers(user)

    forbidden = await client.get("/api/v1/users", headers=headers)
    not_found = await client.get(f"/api/v1/users/{other.id}", headers=headers)
    conflict = await client.patch("/api/v1/users/me", json={"email": other.email}, headers=headers)

    assert isinstance(assert_error(forbidden, 403, "forbidden")["detail"], str)
    assert isinstance(assert_error(not_found, 404, "not_found")["detail"], str)
    assert isinstance(assert_error(conflict, 409, "email_taken")["detail"], str)


async def test_401_carries_a_bearer_challenge(client: AsyncClient) -> None:
    missing = await client.get("/api/v1/users/me")
    bad_token = await client.get("/api/v1/users/me", headers={"Authorization": "Bearer not.a.jwt"})

    for response in (missing, bad_token):
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_405_says_which_methods_are_allowed(client: AsyncClient) -> None:
    response = await client.delete("/health/live")

    assert_error(response, 405, "method_not_allowed")
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

    body = assert_error(response, 422, "validation_error")
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

    body = assert_error(response, 422, "validation_error")
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

    assert assert_error(response, 400, "bad_request")["detail"] == (
        "The request body is not valid JSON"
    )
    assert "hunter2" not in response.text


async def test_json_of_the_wrong_shape_is_still_422(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", content=b"[1, 2]", headers={"Content-Type": "application/json"}
    )

    body = assert_error(response, 422, "validation_error")
    assert body["detail"][0]["loc"] == ["body"]


async def test_unhandled_exception_is_a_clean_500(
    crashing_app: FastAPI, client: AsyncClient
) -> None:
    response = await client.get("/test-crash")

    body = assert_error(response, 500, "internal_error")
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
