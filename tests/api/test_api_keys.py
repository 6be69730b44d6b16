"""/api/v1/api-keys, and what a key may do when it is sent as X-API-Key."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.users.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory, unique_email

ALL_SCOPES = [
    "users:read",
    "users:write",
    "projects:read",
    "projects:write",
    "tasks:read",
    "tasks:write",
]
KEY_FIELDS = {"id", "name", "prefix", "scopes", "expires_at", "created_at"}
ERROR_FIELDS = {"detail", "error", "request_id"}


# --- helpers -------------------------------------------------------------------------------


async def create_key(
    client: AsyncClient, headers: dict[str, str], *scopes: str, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/api-keys",
        json={"name": extra.pop("name", "script"), "scopes": list(scopes), **extra},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def key_headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def assert_error(response: Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_FIELDS
    assert body["error"] == error
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


async def stored_user(sessionmaker: async_sessionmaker[AsyncSession], user_id: int) -> User:
    async with sessionmaker() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


# --- creating and listing ------------------------------------------------------------------


async def test_create_key_returns_it_once_with_the_tfk_prefix(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()

    response = await client.post(
        "/api/v1/api-keys",
        json={"name": "ci", "scopes": ["users:write", "users:read"]},
        headers=users.headers(user),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {*KEY_FIELDS, "key"}
    assert body["key"].startswith("tfk_")
    assert len(body["key"]) >= len("tfk_") + 32
    assert body["key"].startswith(body["prefix"])
    assert body["prefix"] != body["key"]
    assert body["name"] == "ci"
    assert sorted(body["scopes"]) == ["users:read", "users:write"]
    assert body["expires_at"] is None
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None


async def test_each_key_is_different(client: AsyncClient, users: UserFactory) -> None:
    user = await users()
    headers = users.headers(user)

    first = await create_key(client, headers, "users:read")
    second = await create_key(client, headers, "users:read")

    assert first["key"] != second["key"]
    assert first["id"] != second["id"]


async def test_list_keys_never_shows_the_key(client: AsyncClient, users: UserFactory) -> None:
    user = await users()
    headers = users.headers(user)
    created = await create_key(client, headers, "users:read", name="laptop")

    response = await client.get("/api/v1/api-keys", headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers["X-Total-Count"] == "1"
    [listed] = response.json()
    assert set(listed) == KEY_FIELDS
    assert listed["id"] == created["id"]
    assert listed["name"] == "laptop"
    assert listed["prefix"] == created["prefix"]
    assert created["key"] not in response.text


async def test_list_keys_shows_only_the_callers_keys(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    other = await users()
    mine = await create_key(client, users.headers(user), "users:read")
    await create_key(client, users.headers(other), "users:read")

    response = await client.get("/api/v1/api-keys", headers=users.headers(user))

    assert [item["id"] for item in response.json()] == [mine["id"]]
    assert response.headers["X-Total-Count"] == "1"


async def test_list_keys_of_a_user_without_keys_is_empty_with_total_zero(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()

    response = await client.get("/api/v1/api-keys", headers=users.headers(user))

    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"


async def test_list_keys_pages_in_creation_order(client: AsyncClient, users: UserFactory) -> None:
    user = await users()
    headers = users.headers(user)
    ids = [(await create_key(client, headers, "users:read", name=f"k{i}"))["id"] for i in range(4)]

    first = await client.get("/api/v1/api-keys", params={"limit": 2}, headers=headers)
    second = await client.get("/api/v1/api-keys", params={"skip": 2, "limit": 2}, headers=headers)

    assert [item["id"] for item in first.json()] == ids[:2]
    assert [item["id"] for item in second.json()] == ids[2:]
    assert first.headers["X-Total-Count"] == second.headers["X-Total-Count"] == "4"


async def test_key_is_stored_only_as_its_sha256(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()
    created = await create_key(client, users.headers(user), "users:read")
    key = created["key"]

    async with sessionmaker() as session:
        row = (
            (
                await session.execute(
                    text("SELECT * FROM api_keys WHERE id = :id"), {"id": created["id"]}
                )
            )
            .mappings()
            .one()
        )

    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert row["user_id"] == user.id
    for column, value in row.items():
        assert key not in str(value), column
    assert len(row["prefix"]) < len(key) // 2


async def test_key_with_expiry_reports_when_it_expires(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    before = datetime.now(UTC)

    created = await create_key(client, users.headers(user), "users:read", expires_in_days=30)

    expires_at = datetime.fromisoformat(created["expires_at"])
    assert expires_at.tzinfo is not None
    expected = before + timedelta(days=30)
    assert expected - timedelta(minutes=1) < expires_at < expected + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "k", "scopes": []}, ["body", "scopes"]),
        ({"name": "k", "scopes": ["users:admin"]}, ["body", "scopes", 0]),
        (
            {"name": "k", "scopes": ["users:read"], "expires_in_days": 0},
            ["body", "expires_in_days"],
        ),
        (
            {"name": "k", "scopes": ["users:read"], "expires_in_days": -1},
            ["body", "expires_in_days"],
        ),
        ({"name": "", "scopes": ["users:read"]}, ["body", "name"]),
        ({"name": "k", "scopes": ["users:read"], "user_id": 1}, ["body", "user_id"]),
    ],
    ids=["empty-scopes", "unknown-scope", "expires-0", "expires-negative", "empty-name", "user_id"],
)
async def test_create_key_with_bad_body_is_422(
    client: AsyncClient, users: UserFactory, body: dict[str, Any], loc: list[str | int]
) -> None:
    user = await users()
    headers = users.headers(user)

    response = await client.post("/api/v1/api-keys", json=body, headers=headers)

    error = assert_error(response, 422, "validation_error")
    assert loc in [item["loc"] for item in error["detail"]]
    assert (await client.get("/api/v1/api-keys", headers=headers)).json() == []


async def test_create_key_without_credentials_is_401(client: AsyncClient) -> None:
    response = await client.post("/api/v1/api-keys", json={"name": "k", "scopes": ["users:read"]})

    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


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


# --- deleting ------------------------------------------------------------------------------


async def test_delete_key_is_204_and_the_key_stops_working(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    headers = users.headers(user)
    created = await create_key(client, headers, "users:read")
    assert (
        await client.get("/api/v1/users/me", headers=key_headers(created["key"]))
    ).status_code == 200

    response = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=headers)

    assert response.status_code == 204, response.text
    assert response.content == b""
    after = await client.get("/api/v1/users/me", headers=key_headers(created["key"]))
    assert_error(after, 401, "invalid_api_key")
    assert (await client.get("/api/v1/api-keys", headers=headers)).json() == []
    again = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=headers)
    assert_error(again, 404, "not_found")


async def test_deleting_one_key_leaves_the_users_other_keys_working(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    headers = users.headers(user)
    doomed = await create_key(client, headers, "users:read", name="doomed")
    kept = await create_key(client, headers, "users:read", name="kept")

    assert (
        await client.delete(f"/api/v1/api-keys/{doomed['id']}", headers=headers)
    ).status_code == 204

    assert [
        item["id"] for item in (await client.get("/api/v1/api-keys", headers=headers)).json()
    ] == [kept["id"]]
    assert (
        await client.get("/api/v1/users/me", headers=key_headers(kept["key"]))
    ).status_code == 200


async def test_deleting_another_users_key_is_404_and_leaves_it_working(
    client: AsyncClient, users: UserFactory
) -> None:
    owner = await users()
    intruder = await users()
    created = await create_key(client, users.headers(owner), "users:read")

    response = await client.delete(
        f"/api/v1/api-keys/{created['id']}", headers=users.headers(intruder)
    )
    missing = await client.delete(
        f"/api/v1/api-keys/{created['id'] + 1000}", headers=users.headers(intruder)
    )

    body = assert_error(response, 404, "not_found")
    assert body["detail"] == assert_error(missing, 404, "not_found")["detail"]
    still = await client.get("/api/v1/users/me", headers=key_headers(created["key"]))
    assert still.status_code == 200, still.text
    assert still.json()["id"] == owner.id


async def test_admin_cannot_delete_another_users_key_either(
    client: AsyncClient, users: UserFactory
) -> None:
    owner = await users()
    admin = await users.admin()
    created = await create_key(client, users.headers(owner), "users:read")

    response = await client.delete(
        f"/api/v1/api-keys/{created['id']}", headers=users.headers(admin)
    )

    assert_error(response, 404, "not_found")
    assert (
        await client.get("/api/v1/users/me", headers=key_headers(created["key"]))
    ).status_code == 200


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
