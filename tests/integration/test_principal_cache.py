"""The cached principal and the caller's cached reads, against real Redis: what a login, a
password change, an email verification or a role change does to the account is read at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from taskflow.core import clock
from tests.factories import DEFAULT_PASSWORD, DomainFactory, unique_email
from tests.support.mailbox import Mailbox
from tests.support.sql import statements

pytestmark = pytest.mark.settings(redis_url="from-fixture")

API = "/api/v1"
ME = f"{API}/users/me"


async def me(client: AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(ME, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def login_status(client: AsyncClient, email: str, password: str = DEFAULT_PASSWORD) -> int:
    response = await client.post(f"{API}/auth/login", json={"email": email, "password": password})
    return response.status_code


async def test_a_verified_email_is_read_at_once_from_users_me(
    client: AsyncClient, mailbox: Mailbox
) -> None:
    email = unique_email("cached")
    registered = await client.post(
        f"{API}/auth/register",
        json={"email": email, "password": DEFAULT_PASSWORD, "full_name": "Cached User"},
    )
    assert registered.status_code == 201, registered.text
    token = mailbox.last_to(email).link_token("verify-email")
    login = await client.post(
        f"{API}/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await me(client, headers))["is_verified"] is False

    verified = await client.post(f"{API}/auth/verify-email", json={"token": token})

    assert verified.status_code == 204, verified.text
    assert (await me(client, headers))["is_verified"] is True


async def test_a_password_change_is_read_at_once_in_updated_at(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    headers = make.headers(user)
    before = (await me(client, headers))["updated_at"]

    changed = await client.post(
        f"{API}/auth/change-password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "brand-new-pass-42"},
        headers=headers,
    )

    assert changed.status_code == 204, changed.text
    assert (await me(client, headers))["updated_at"] > before


async def test_a_login_that_clears_failures_is_read_at_once_in_updated_at(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    headers = make.headers(user)
    assert await login_status(client, user.email, "wrong-password-1") == 401
    before = (await me(client, headers))["updated_at"]

    assert await login_status(client, user.email) == 200

    assert (await me(client, headers))["updated_at"] > before


async def test_a_login_after_a_lockout_ended_is_read_at_once_in_updated_at(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make(locked_until=clock.now() - timedelta(minutes=1), failed_login_count=0)
    headers = make.headers(user)
    before = (await me(client, headers))["updated_at"]

    assert await login_status(client, user.email) == 200

    assert (await me(client, headers))["updated_at"] > before


async def test_a_plain_login_keeps_the_cached_principal(
    app: FastAPI, client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    headers = make.headers(user)
    before = await me(client, headers)

    assert await login_status(client, user.email) == 200

    with statements(app) as sql:
        after = await me(client, headers)
    assert sql == []
    assert after == before


async def test_a_promoted_user_sees_every_project_at_once(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, user, stranger = await make.admin(), await make(), await make()
    own, other = await make.project(user), await make.project(stranger)
    listed = await client.get(f"{API}/projects", headers=make.headers(user))
    assert [p["id"] for p in listed.json()] == [own.id]

    promoted = await client.patch(
        f"{API}/users/{user.id}", json={"role": "admin"}, headers=make.headers(admin)
    )

    assert promoted.status_code == 200, promoted.text
    listed = await client.get(f"{API}/projects", headers=make.headers(user))
    assert sorted(p["id"] for p in listed.json()) == sorted([own.id, other.id])


async def test_a_changed_email_is_read_in_the_tasks_that_name_it(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, assignee = await make(), await make()
    project = await make.project(owner)
    await make.member(project, assignee, "editor")
    task = await make.task(project, assignee_id=assignee.id)
    url = f"{API}/tasks/{task.id}"
    assert (await client.get(url, headers=make.headers(owner))).json()["assignee"][
        "email"
    ] == assignee.email
    new_email = unique_email("moved")

    changed = await client.patch(ME, json={"email": new_email}, headers=make.headers(assignee))

    assert changed.status_code == 200, changed.text
    read = await client.get(url, headers=make.headers(owner))
    assert read.json()["assignee"]["email"] == new_email


def reads_users(sql: list[str]) -> bool:
    return any("FROM users" in statement for statement in sql)


async def test_a_task_write_takes_the_cached_principal_and_reads_no_user_row(
    app: FastAPI, client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    await me(client, headers)  # caches the principal

    with statements(app) as sql:
        created = await client.post(
            f"{API}/tasks", json={"title": "Cached", "project_id": project.id}, headers=headers
        )
        changed = await client.patch(
            f"{API}/tasks/{created.json()['id']}", json={"priority": 5}, headers=headers
        )

    assert created.status_code == 201, created.text
    assert changed.status_code == 200, changed.text
    assert created.json()["created_by"]["email"] == owner.email
    assert sql != []
    assert not reads_users(sql)


async def test_an_account_write_still_reads_the_user_row_with_the_principal_cached(
    app: FastAPI, client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    headers = make.headers(user)
    await me(client, headers)

    with statements(app) as sql:
        renamed = await client.patch(ME, json={"full_name": "Renamed"}, headers=headers)

    assert renamed.status_code == 200, renamed.text
    assert reads_users(sql)


async def test_a_deactivated_user_cannot_write_tasks_with_its_principal_cached(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, user = await make.admin(), await make()
    project = await make.project(user)
    headers = make.headers(user)
    body = {"title": "Before", "project_id": project.id}
    assert (await client.post(f"{API}/tasks", json=body, headers=headers)).status_code == 201

    deactivated = await client.patch(
        f"{API}/users/{user.id}", json={"is_active": False}, headers=make.headers(admin)
    )

    assert deactivated.status_code == 200, deactivated.text
    refused = await client.post(f"{API}/tasks", json={**body, "title": "After"}, headers=headers)
    assert refused.status_code == 401, refused.text


async def test_a_demoted_admin_cannot_write_tasks_in_others_projects_at_once(
    client: AsyncClient, make: DomainFactory
) -> None:
    first, second, stranger = await make.admin(), await make.admin(), await make()
    project = await make.project(stranger)
    headers = make.headers(second)
    body = {"title": "As admin", "project_id": project.id}
    assert (await client.post(f"{API}/tasks", json=body, headers=headers)).status_code == 201

    demoted = await client.patch(
        f"{API}/users/{second.id}", json={"role": "user"}, headers=make.headers(first)
    )

    assert demoted.status_code == 200, demoted.text
    refused = await client.post(f"{API}/tasks", json={**body, "title": "After"}, headers=headers)
    assert refused.status_code == 404, refused.text
