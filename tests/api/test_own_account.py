"""A user's own account through /api/v1/users/me: reading, changing and deactivating it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import UserFactory, unique_email
from tests.support.api import (
    USER_FIELDS,
    api_key,
    assert_error,
    bearer,
    login,
    login_ok,
    stored_user,
)
from tests.support.mailbox import Mailbox


def no_secret_fields(body: dict[str, Any]) -> None:
    lowered = {key.lower() for key in body}
    assert not any("password" in key or "hash" in key for key in lowered), body


# --- GET /users/me -------------------------------------------------------------------------


async def test_me_returns_exactly_the_public_user_fields(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users(full_name="Grace Hopper")

    response = await client.get("/api/v1/users/me", headers=users.headers(user))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == USER_FIELDS
    no_secret_fields(body)
    assert "argon2" not in response.text
    assert body["id"] == user.id
    assert body["email"] == user.email
    assert body["full_name"] == "Grace Hopper"
    assert body["role"] == "user"
    assert body["is_active"] is True
    assert body["is_verified"] is True


async def test_me_timestamps_are_iso_8601_with_timezone(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()

    body = (await client.get("/api/v1/users/me", headers=users.headers(user))).json()

    for field in ("created_at", "updated_at"):
        parsed = datetime.fromisoformat(body[field])
        assert parsed.tzinfo is not None, body[field]
        assert parsed.utcoffset() is not None, body[field]


async def test_me_without_credentials_is_401(client: AsyncClient) -> None:
    response = await client.get("/api/v1/users/me")

    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


# --- PATCH /users/me -----------------------------------------------------------------------


async def test_patch_me_changes_the_name(
    client: AsyncClient, users: UserFactory, mailbox: Mailbox
) -> None:
    user = await users(full_name="Old Name")
    headers = users.headers(user)

    response = await client.patch(
        "/api/v1/users/me", json={"full_name": "New Name"}, headers=headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "New Name"
    assert set(response.json()) == USER_FIELDS
    me = await client.get("/api/v1/users/me", headers=headers)
    assert me.json()["full_name"] == "New Name"
    assert mailbox.messages == []  # only a new email address needs verifying


async def test_patch_me_email_is_lower_cased_unverified_and_verified_by_mail_to_new_address(
    client: AsyncClient, users: UserFactory, mailbox: Mailbox
) -> None:
    user = await users(is_verified=True)
    headers = users.headers(user)
    new_email = unique_email("moved")
    mixed_case = new_email.replace("moved", "MoVeD").replace("example.com", "Example.COM")

    response = await client.patch("/api/v1/users/me", json={"email": mixed_case}, headers=headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["email"] == new_email
    assert body["is_verified"] is False
    assert mailbox.to(user.email) == []
    token = mailbox.last_to(new_email).link_token("verify-email")
    verified = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 204, verified.text
    me = await client.get("/api/v1/users/me", headers=headers)
    assert me.json()["email"] == new_email
    assert me.json()["is_verified"] is True


async def test_patch_me_to_a_taken_email_is_409_whatever_its_case(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()
    other = await users()

    response = await client.patch(
        "/api/v1/users/me", json={"email": other.email.upper()}, headers=users.headers(user)
    )

    assert_error(response, 409, "email_taken")
    assert (await stored_user(sessionmaker, user.id)).email == user.email


@pytest.mark.parametrize(
    "body",
    [{"role": "admin"}, {"password_hash": "x"}, {"is_verified": True}, {"full_name": "A", "id": 1}],
    ids=["role", "password_hash", "is_verified", "id"],
)
async def test_patch_me_rejects_unknown_fields(
    client: AsyncClient,
    users: UserFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
) -> None:
    user = await users(full_name="Unchanged", is_verified=False)

    response = await client.patch("/api/v1/users/me", json=body, headers=users.headers(user))

    error = assert_error(response, 422, "validation_error")
    unknown = next(field for field in body if field != "full_name")
    assert ["body", unknown] in [item["loc"] for item in error["detail"]]
    stored = await stored_user(sessionmaker, user.id)
    assert (stored.role, stored.full_name, stored.is_verified) == ("user", "Unchanged", False)
    assert stored.password_hash == user.password_hash


@pytest.mark.parametrize("field", ["full_name", "email"])
async def test_patch_me_with_null_is_422(
    client: AsyncClient,
    users: UserFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    field: str,
) -> None:
    user = await users()

    response = await client.patch(
        "/api/v1/users/me", json={field: None}, headers=users.headers(user)
    )

    error = assert_error(response, 422, "validation_error")
    assert ["body", field] in [item["loc"] for item in error["detail"]]
    stored = await stored_user(sessionmaker, user.id)
    assert (stored.full_name, stored.email) == (user.full_name, user.email)


async def test_user_cannot_set_own_role_through_patch_by_id(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()

    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"role": "admin"}, headers=users.headers(user)
    )

    body = assert_error(response, 403, "forbidden")
    assert body["detail"] == "Only administrators may change role"
    assert (await stored_user(sessionmaker, user.id)).role == "user"


async def test_user_cannot_deactivate_itself_through_patch_by_id(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()

    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"is_active": False}, headers=users.headers(user)
    )

    body = assert_error(response, 403, "forbidden")
    assert body["detail"] == "Only administrators may change is_active"
    assert (await stored_user(sessionmaker, user.id)).is_active is True


async def test_user_patching_several_admin_fields_is_told_all_of_them(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()

    response = await client.patch(
        f"/api/v1/users/{user.id}",
        json={"role": "admin", "is_active": False},
        headers=users.headers(user),
    )

    body = assert_error(response, 403, "forbidden")
    assert body["detail"] == "Only administrators may change is_active, role"
    stored = await stored_user(sessionmaker, user.id)
    assert (stored.role, stored.is_active) == ("user", True)


async def test_user_can_patch_own_name_by_id(client: AsyncClient, users: UserFactory) -> None:
    user = await users()

    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"full_name": "Renamed"}, headers=users.headers(user)
    )

    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "Renamed"


# --- DELETE /users/me ----------------------------------------------------------------------


async def test_delete_me_deactivates_and_the_same_access_token_stops_working(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()
    tokens = await login_ok(client, user.email)
    headers = bearer(tokens["access_token"])

    response = await client.delete("/api/v1/users/me", headers=headers)

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert (await stored_user(sessionmaker, user.id)).is_active is False
    after = await client.get("/api/v1/users/me", headers=headers)
    assert_error(after, 401, "invalid_token")
    assert after.headers["WWW-Authenticate"] == "Bearer"


async def test_delete_me_makes_refresh_tokens_fail(client: AsyncClient, users: UserFactory) -> None:
    user = await users()
    tokens = await login_ok(client, user.email)
    headers, refresh_token = bearer(tokens["access_token"]), tokens["refresh_token"]
    other_login_refresh = (await login_ok(client, user.email))["refresh_token"]

    assert (await client.delete("/api/v1/users/me", headers=headers)).status_code == 204

    for token in (refresh_token, other_login_refresh):
        response = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 401, response.text
        assert "access_token" not in response.json()


async def test_delete_me_then_login_fails_with_invalid_credentials(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    assert (await login(client, user.email)).status_code == 200

    assert (await client.delete("/api/v1/users/me", headers=users.headers(user))).status_code == 204

    response = await login(client, user.email)
    body = assert_error(response, 401, "invalid_credentials")
    assert body["detail"] == "Invalid credentials"


async def test_delete_me_makes_the_users_api_keys_stop_working_at_once(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    headers = users.headers(user)
    key = await api_key(client, headers, "users:read")
    assert (await client.get("/api/v1/users/me", headers={"X-API-Key": key})).status_code == 200

    assert (await client.delete("/api/v1/users/me", headers=headers)).status_code == 204

    response = await client.get("/api/v1/users/me", headers={"X-API-Key": key})
    assert_error(response, 401, "invalid_api_key")


async def test_admin_cannot_delete_me(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await users.admin()

    response = await client.delete("/api/v1/users/me", headers=users.headers(admin))

    body = assert_error(response, 403, "forbidden")
    assert body["detail"] == "Administrators cannot deactivate themselves"
    assert (await stored_user(sessionmaker, admin.id)).is_active is True
