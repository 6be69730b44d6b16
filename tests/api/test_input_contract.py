"""What the OpenAPI document promises about input is what the API does with it."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from taskflow.core.types import PASSWORD_PATTERN
from tests.factories import DEFAULT_PASSWORD, DomainFactory, unique_email

NUL = "\x00"


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/v1/users/me", "DELETE, GET, PATCH"),
        ("/api/v1/tasks/1", "DELETE, GET, PATCH"),
        ("/api/v1/tasks/bulk-update", "POST"),
        ("/api/v1/projects", "GET, POST"),
    ],
)
async def test_405_names_every_method_the_path_serves(
    client: AsyncClient, path: str, methods: str
) -> None:
    response = await client.request("PUT", path)
    assert response.status_code == 405
    assert response.headers["Allow"] == methods
    assert response.json()["error"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/api/v1/tasks", "/api/v1/projects", "/api/v1/users"])
async def test_a_nul_character_in_a_search_is_422_not_a_database_error(
    client: AsyncClient, make: DomainFactory, path: str
) -> None:
    admin = await make.admin()
    response = await client.get(path, params={"search": f"a{NUL}b"}, headers=make.headers(admin))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "search"]
    assert "NUL" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("name", f"a{NUL}b", "NUL"),
        ("name", " \t\n", "blank"),
        ("name", " " + "x" * 200, "at most 200"),
        ("description", f"{NUL}", "NUL"),
    ],
)
async def test_project_text_is_checked_as_the_schema_says(
    client: AsyncClient, make: DomainFactory, field: str, value: str, problem: str
) -> None:
    owner = await make()
    body = {"name": "ok", field: value}
    response = await client.post("/api/v1/projects", json=body, headers=make.headers(owner))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert problem in response.json()["detail"][0]["msg"]


async def test_names_are_stored_without_surrounding_whitespace(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    created = await client.post(
        "/api/v1/projects", json={"name": "\t  Launch \n"}, headers=make.headers(owner)
    )
    assert created.json()["name"] == "Launch"


@pytest.mark.parametrize("domain", ["example.test", "host.local", "localhost", "x.invalid"])
async def test_emails_at_reserved_domains_are_refused(client: AsyncClient, domain: str) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": f"someone@{domain}", "password": "secret123", "full_name": "S"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "email"]


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("\u043f\u0430\u0440\u043e\u043b\u044c123", True),  # Cyrillic letters count
        ("abc12345", True),
        ("12345678", False),
        ("abcdefgh", False),
        ("________1", False),
    ],
)
async def test_the_password_pattern_in_the_schema_is_the_policy(
    app: FastAPI, client: AsyncClient, password: str, accepted: bool
) -> None:
    schema = app.openapi()["components"]["schemas"]["UserCreate"]["properties"]["password"]
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": unique_email(), "password": password, "full_name": "P"},
    )
    assert schema["pattern"] == PASSWORD_PATTERN
    assert bool(re.match(schema["pattern"], password)) is accepted
    assert (response.status_code == 201) is accepted


async def test_created_resources_say_where_they_live(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    headers = make.headers(owner)
    project = await client.post("/api/v1/projects", json={"name": "p"}, headers=headers)
    task = await client.post(
        "/api/v1/tasks", json={"title": "t", "project_id": project.json()["id"]}, headers=headers
    )
    for created in (project, task):
        assert created.status_code == 201
        followed = await client.get(created.headers["Location"], headers=headers)
        assert followed.status_code == 200
        assert followed.json()["id"] == created.json()["id"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/projects",
        "/api/v1/projects/{project}/members",
        "/api/v1/tasks",
        "/api/v1/users",
        "/api/v1/api-keys",
        "/api/v1/admin/audit",
        "/api/v1/users/me/audit",
    ],
)
async def test_every_list_takes_skip_up_to_its_declared_maximum_and_refuses_more(
    app: FastAPI, client: AsyncClient, make: DomainFactory, path: str
) -> None:
    admin = await make.admin()
    url = path.format(project=(await make.project(admin)).id)
    operation = app.openapi()["paths"][path.replace("{project}", "{project_id}")]["get"]
    declared = next(p["schema"] for p in operation["parameters"] if p["name"] == "skip")
    headers = make.headers(admin)

    deepest = await client.get(url, params={"skip": declared["maximum"]}, headers=headers)
    beyond = await client.get(url, params={"skip": declared["maximum"] + 1}, headers=headers)

    assert deepest.status_code == 200, deepest.text
    assert deepest.json() == []
    assert beyond.status_code == 422, beyond.text
    assert beyond.json()["detail"][0]["loc"] == ["query", "skip"]
    assert declared["maximum"] == 2**31 - 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/auth/register", {"password": f"abc{NUL}12345", "full_name": "N"}, "password"),
        ("/users", {"password": f"abc{NUL}12345", "full_name": "N"}, "password"),
        ("/auth/login", {"password": f"{DEFAULT_PASSWORD}{NUL}"}, "password"),
        (
            "/auth/change-password",
            {"current_password": DEFAULT_PASSWORD, "new_password": f"abc{NUL}12345"},
            "new_password",
        ),
        (
            "/auth/change-password",
            {"current_password": f"{DEFAULT_PASSWORD}{NUL}", "new_password": "abc12345"},
            "current_password",
        ),
        (
            "/auth/password-reset/confirm",
            {"token": "t", "new_password": f"abc{NUL}12345"},
            "new_password",
        ),
        ("/auth/refresh", {"refresh_token": f"a{NUL}b"}, "refresh_token"),
        ("/auth/logout", {"refresh_token": f"a{NUL}b"}, "refresh_token"),
        ("/auth/verify-email", {"token": f"a{NUL}b"}, "token"),
        ("/auth/password-reset/confirm", {"token": NUL, "new_password": "abc12345"}, "token"),
    ],
)
async def test_passwords_and_tokens_with_a_nul_character_are_422(
    client: AsyncClient, make: DomainFactory, path: str, body: dict[str, str], field: str
) -> None:
    admin = await make.admin()
    email = admin.email if path == "/auth/login" else unique_email()
    sent = {"email": email, **body} if "password" in body else body

    response = await client.post(f"/api/v1{path}", json=sent, headers=make.headers(admin))

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert "NUL" in response.json()["detail"][0]["msg"]
