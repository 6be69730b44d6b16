"""Creating, listing and deleting API keys through /api/v1/api-keys."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import UserFactory
from tests.support.api import assert_error, create_key, key_headers

KEY_FIELDS = {"id", "name", "prefix", "scopes", "expires_at", "created_at"}


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
