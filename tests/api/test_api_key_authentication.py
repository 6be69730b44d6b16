"""Acting with an API key: its scopes, its expiry, and admins' keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DEFAULT_PASSWORD, UserFactory, unique_email
from tests.support.api import assert_error, create_key, key_headers, stored_user

ALL_SCOPES = [
    "users:read",
    "users:write",
    "projects:read",
    "projects:write",
    "tasks:read",
    "tasks:write",
]


# --- using a key ---------------------------------------------------------------------------


async def test_key_with_users_read_acts_as_its_user_on_get_me(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    key = (await create_key(client, users.headers(user), "users:read"))["key"]

    response = await client.get("/api/v1/users/me", headers=key_headers(key))

    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["email"]) == (user.id, user.email)


async def test_key_without_the_scope_gets_403_insufficient_scope(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    key = (await create_key(client, users.headers(user), "projects:read", "tasks:write"))["key"]

    response = await client.get("/api/v1/users/me", headers=key_headers(key))

    body = assert_error(response, 403, "insufficient_scope")
    assert "users:read" in body["detail"]


async def test_patch_me_with_a_read_only_key_is_403_insufficient_scope(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users(full_name="Before")
    key = (await create_key(client, users.headers(user), "users:read"))["key"]

    response = await client.patch(
        "/api/v1/users/me", json={"full_name": "After"}, headers=key_headers(key)
    )

    assert_error(response, 403, "insufficient_scope")
    assert (await stored_user(sessionmaker, user.id)).full_name == "Before"


async def test_patch_me_name_with_a_users_write_key_works(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users(full_name="Before")
    key = (await create_key(client, users.headers(user), "users:write"))["key"]

    response = await client.patch(
        "/api/v1/users/me", json={"full_name": "After"}, headers=key_headers(key)
    )

    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "After"
    assert (await stored_user(sessionmaker, user.id)).full_name == "After"


async def test_key_cannot_change_the_email_even_with_users_write(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()
    key = (await create_key(client, users.headers(user), *ALL_SCOPES))["key"]

    response = await client.patch(
        "/api/v1/users/me", json={"email": unique_email("stolen")}, headers=key_headers(key)
    )

    body = assert_error(response, 403, "session_required")
    assert body["detail"] == ("Changing an email needs a logged-in session; API keys cannot do it")
    stored = await stored_user(sessionmaker, user.id)
    assert (stored.email, stored.is_verified) == (user.email, True)


async def test_key_cannot_change_the_email_by_id_either(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()
    key = (await create_key(client, users.headers(user), *ALL_SCOPES))["key"]

    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"email": unique_email("stolen")}, headers=key_headers(key)
    )

    assert_error(response, 403, "session_required")
    assert (await stored_user(sessionmaker, user.id)).email == user.email


async def test_key_cannot_change_the_password(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()
    key = (await create_key(client, users.headers(user), *ALL_SCOPES))["key"]

    response = await client.post(
        "/api/v1/auth/change-password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "another-pass-42"},
        headers=key_headers(key),
    )

    assert_error(response, 403, "session_required")
    assert (await stored_user(sessionmaker, user.id)).password_hash == user.password_hash


async def test_key_cannot_create_keys(client: AsyncClient, users: UserFactory) -> None:
    user = await users()
    session_headers = users.headers(user)
    key = (await create_key(client, session_headers, *ALL_SCOPES))["key"]

    response = await client.post(
        "/api/v1/api-keys",
        json={"name": "child", "scopes": ["users:read"]},
        headers=key_headers(key),
    )

    assert_error(response, 403, "session_required")
    assert len((await client.get("/api/v1/api-keys", headers=session_headers)).json()) == 1


async def test_key_cannot_list_keys(client: AsyncClient, users: UserFactory) -> None:
    user = await users()
    created = await create_key(client, users.headers(user), *ALL_SCOPES)

    response = await client.get("/api/v1/api-keys", headers=key_headers(created["key"]))

    assert_error(response, 403, "session_required")
    assert created["prefix"] not in response.text


async def test_key_cannot_delete_keys(client: AsyncClient, users: UserFactory) -> None:
    user = await users()
    session_headers = users.headers(user)
    target = await create_key(client, session_headers, "users:read")
    key = (await create_key(client, session_headers, *ALL_SCOPES))["key"]

    response = await client.delete(f"/api/v1/api-keys/{target['id']}", headers=key_headers(key))

    assert_error(response, 403, "session_required")
    still = await client.get("/api/v1/users/me", headers=key_headers(target["key"]))
    assert still.status_code == 200, still.text


async def test_key_cannot_deactivate_its_user(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()
    key = (await create_key(client, users.headers(user), *ALL_SCOPES))["key"]

    response = await client.delete("/api/v1/users/me", headers=key_headers(key))

    assert_error(response, 403, "session_required")
    assert (await stored_user(sessionmaker, user.id)).is_active is True


async def test_expired_key_is_401(client: AsyncClient, users: UserFactory) -> None:
    user = await users()
    key = (await create_key(client, users.headers(user), "users:read", expires_in_days=1))["key"]
    assert (await client.get("/api/v1/users/me", headers=key_headers(key))).status_code == 200

    with time_machine.travel(datetime.now(UTC) + timedelta(days=2)):
        response = await client.get("/api/v1/users/me", headers=key_headers(key))

    body = assert_error(response, 401, "invalid_api_key")
    assert body["detail"] == "API key has expired"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_key_stops_working_at_the_exact_moment_it_expires(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    created = await create_key(client, users.headers(user), "users:read", expires_in_days=1)
    expires_at = datetime.fromisoformat(created["expires_at"])

    with time_machine.travel(expires_at - timedelta(microseconds=1), tick=False):
        before = await client.get("/api/v1/users/me", headers=key_headers(created["key"]))
    with time_machine.travel(expires_at, tick=False):
        at = await client.get("/api/v1/users/me", headers=key_headers(created["key"]))

    assert before.status_code == 200, before.text
    assert assert_error(at, 401, "invalid_api_key")["detail"] == "API key has expired"


async def test_key_still_works_just_before_it_expires(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    key = (await create_key(client, users.headers(user), "users:read", expires_in_days=1))["key"]

    with time_machine.travel(datetime.now(UTC) + timedelta(hours=23)):
        response = await client.get("/api/v1/users/me", headers=key_headers(key))

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "key", ["tfk_not-a-real-key", "garbage", "tfk_" + "A" * 43], ids=["tfk", "garbage", "shaped"]
)
async def test_invalid_key_is_401_with_bearer_challenge(
    client: AsyncClient, users: UserFactory, key: str
) -> None:
    user = await users()
    await create_key(client, users.headers(user), "users:read")

    response = await client.get("/api/v1/users/me", headers=key_headers(key))

    assert_error(response, 401, "invalid_api_key")
    assert response.headers["WWW-Authenticate"] == "Bearer"


# --- admins' keys --------------------------------------------------------------------------


async def test_admin_key_with_users_read_lists_users(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    other = await users()
    key = (await create_key(client, users.headers(admin), "users:read"))["key"]

    response = await client.get("/api/v1/users", headers=key_headers(key))

    assert response.status_code == 200, response.text
    assert {item["id"] for item in response.json()} == {admin.id, other.id}


async def test_admin_key_without_users_write_cannot_create_users(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    key = (await create_key(client, users.headers(admin), "users:read"))["key"]
    email = unique_email()

    response = await client.post(
        "/api/v1/users",
        json={"email": email, "password": "brand-new-pass-1", "full_name": "No"},
        headers=key_headers(key),
    )

    assert_error(response, 403, "insufficient_scope")
    listed = await client.get("/api/v1/users", params={"search": email}, headers=key_headers(key))
    assert listed.json() == []


async def test_admin_key_without_users_write_cannot_change_or_deactivate_users(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await users.admin()
    other = await users()
    key = (await create_key(client, users.headers(admin), "users:read", "projects:write"))["key"]

    promoted = await client.patch(
        f"/api/v1/users/{other.id}", json={"role": "admin"}, headers=key_headers(key)
    )
    deleted = await client.delete(f"/api/v1/users/{other.id}", headers=key_headers(key))

    assert_error(promoted, 403, "insufficient_scope")
    assert_error(deleted, 403, "insufficient_scope")
    stored = await stored_user(sessionmaker, other.id)
    assert (stored.role, stored.is_active) == ("user", True)


async def test_admin_key_without_users_read_cannot_list_users(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    key = (await create_key(client, users.headers(admin), "users:write"))["key"]

    response = await client.get("/api/v1/users", headers=key_headers(key))

    assert_error(response, 403, "insufficient_scope")


async def test_admin_key_with_users_write_acts_as_admin(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await users.admin()
    other = await users()
    key = (await create_key(client, users.headers(admin), "users:write"))["key"]

    response = await client.patch(
        f"/api/v1/users/{other.id}", json={"role": "admin"}, headers=key_headers(key)
    )

    assert response.status_code == 200, response.text
    assert (await stored_user(sessionmaker, other.id)).role == "admin"


async def test_user_key_with_every_scope_is_still_not_admin(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    key = (await create_key(client, users.headers(user), *ALL_SCOPES))["key"]

    response = await client.get("/api/v1/users", headers=key_headers(key))

    assert_error(response, 403, "forbidden")
