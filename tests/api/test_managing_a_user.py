"""Administrators reading, changing and deactivating one user through /api/v1/users/{id}."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import UserFactory
from tests.support.api import (
    USER_FIELDS,
    api_key,
    assert_error,
    bearer,
    login,
    login_ok,
    stored_user,
)

# --- GET /users/{id} -----------------------------------------------------------------------


async def test_user_reads_itself_by_id(client: AsyncClient, users: UserFactory) -> None:
    user = await users()

    response = await client.get(f"/api/v1/users/{user.id}", headers=users.headers(user))

    assert response.status_code == 200, response.text
    assert response.json()["id"] == user.id
    assert set(response.json()) == USER_FIELDS


async def test_other_users_id_is_404_like_a_missing_one_for_a_non_admin(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    other = await users()
    headers = users.headers(user)

    hidden = await client.get(f"/api/v1/users/{other.id}", headers=headers)
    missing = await client.get(f"/api/v1/users/{other.id + 1000}", headers=headers)

    hidden_body = assert_error(hidden, 404, "not_found")
    missing_body = assert_error(missing, 404, "not_found")
    assert hidden_body["detail"] == missing_body["detail"]
    assert other.email not in hidden.text
    assert hidden.headers.get("content-length") == missing.headers.get("content-length")


async def test_admin_reads_any_user_and_a_missing_id_is_404(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    other = await users()
    headers = users.headers(admin)

    response = await client.get(f"/api/v1/users/{other.id}", headers=headers)
    missing = await client.get(f"/api/v1/users/{other.id + 1000}", headers=headers)

    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["email"]) == (other.id, other.email)
    assert_error(missing, 404, "not_found")


@pytest.mark.parametrize("user_id", ["0", str(2**63)])
async def test_an_out_of_range_user_id_is_422(
    client: AsyncClient, users: UserFactory, user_id: str
) -> None:
    admin = await users.admin()

    response = await client.get(f"/api/v1/users/{user_id}", headers=users.headers(admin))

    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize("user_id", ["abc", "-1", "1.5"])
async def test_a_user_id_that_is_not_a_number_matches_no_route(
    client: AsyncClient, users: UserFactory, user_id: str
) -> None:
    admin = await users.admin()

    response = await client.get(f"/api/v1/users/{user_id}", headers=users.headers(admin))

    assert_error(response, 404, "not_found")


# --- PATCH /users/{id} ---------------------------------------------------------------------


async def test_admin_promotes_a_user_who_then_acts_as_admin(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    user = await users()
    assert (await client.get("/api/v1/users", headers=users.headers(user))).status_code == 403

    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"role": "admin"}, headers=users.headers(admin)
    )

    assert response.status_code == 200, response.text
    assert response.json()["role"] == "admin"
    assert (await client.get("/api/v1/users", headers=users.headers(user))).status_code == 200


async def test_admin_changes_another_admins_role_to_user(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await users.admin()
    other_admin = await users.admin()

    response = await client.patch(
        f"/api/v1/users/{other_admin.id}", json={"role": "user"}, headers=users.headers(admin)
    )

    assert response.status_code == 200, response.text
    assert (await stored_user(sessionmaker, other_admin.id)).role == "user"


async def test_admin_patch_with_an_unknown_role_is_422(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    user = await users()

    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"role": "superuser"}, headers=users.headers(admin)
    )

    error = assert_error(response, 422, "validation_error")
    assert ["body", "role"] in [item["loc"] for item in error["detail"]]


async def test_admin_deactivating_a_user_makes_tokens_and_keys_fail_at_once(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    user = await users()
    tokens = await login_ok(client, user.email)
    headers, refresh_token = bearer(tokens["access_token"]), tokens["refresh_token"]
    key = await api_key(client, headers, "users:read")

    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"is_active": False}, headers=users.headers(admin)
    )

    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    assert_error(await client.get("/api/v1/users/me", headers=headers), 401, "invalid_token")
    assert_error(
        await client.get("/api/v1/users/me", headers={"X-API-Key": key}), 401, "invalid_api_key"
    )
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert refreshed.status_code == 401, refreshed.text
    assert (await login(client, user.email)).json()["detail"] == "Invalid credentials"


async def test_admin_reactivates_a_user(client: AsyncClient, users: UserFactory) -> None:
    admin = await users.admin()
    user = await users(is_active=False)

    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"is_active": True}, headers=users.headers(admin)
    )

    assert response.status_code == 200, response.text
    assert (await client.get("/api/v1/users/me", headers=users.headers(user))).status_code == 200


async def test_a_reactivated_user_logs_in_again_and_old_refresh_tokens_stay_dead(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    user = await users()
    refresh_token = (await login_ok(client, user.email))["refresh_token"]
    admin_headers = users.headers(admin)
    deleted = await client.delete(f"/api/v1/users/{user.id}", headers=admin_headers)
    assert deleted.status_code == 204, deleted.text
    reactivated = await client.patch(
        f"/api/v1/users/{user.id}", json={"is_active": True}, headers=admin_headers
    )
    assert reactivated.status_code == 200, reactivated.text

    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})

    assert_error(response, 401, "invalid_token")
    assert (await login(client, user.email)).status_code == 200


async def test_admin_cannot_demote_itself(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await users.admin()

    response = await client.patch(
        f"/api/v1/users/{admin.id}", json={"role": "user"}, headers=users.headers(admin)
    )

    body = assert_error(response, 403, "forbidden")
    assert body["detail"] == "Administrators cannot remove their own admin role"
    assert (await stored_user(sessionmaker, admin.id)).role == "admin"


async def test_admin_cannot_deactivate_itself_by_patch(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await users.admin()

    response = await client.patch(
        f"/api/v1/users/{admin.id}", json={"is_active": False}, headers=users.headers(admin)
    )

    body = assert_error(response, 403, "forbidden")
    assert body["detail"] == "Administrators cannot deactivate themselves"
    assert (await stored_user(sessionmaker, admin.id)).is_active is True


async def test_non_admin_patch_of_another_user_is_404(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()
    other = await users(full_name="Left Alone")

    response = await client.patch(
        f"/api/v1/users/{other.id}", json={"full_name": "Hijacked"}, headers=users.headers(user)
    )

    assert_error(response, 404, "not_found")
    assert (await stored_user(sessionmaker, other.id)).full_name == "Left Alone"


# --- DELETE /users/{id} --------------------------------------------------------------------


async def test_admin_deactivates_another_user(client: AsyncClient, users: UserFactory) -> None:
    admin = await users.admin()
    user = await users()
    user_headers = users.headers(user)

    response = await client.delete(f"/api/v1/users/{user.id}", headers=users.headers(admin))

    assert response.status_code == 204, response.text
    read = await client.get(f"/api/v1/users/{user.id}", headers=users.headers(admin))
    assert read.status_code == 200, read.text
    assert read.json()["is_active"] is False
    assert_error(await client.get("/api/v1/users/me", headers=user_headers), 401, "invalid_token")


async def test_non_admin_delete_of_itself_by_id_is_403(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()

    response = await client.delete(f"/api/v1/users/{user.id}", headers=users.headers(user))

    body = assert_error(response, 403, "forbidden")
    assert body["detail"] == (
        "Only administrators may deactivate other accounts; use DELETE /users/me"
    )
    assert (await stored_user(sessionmaker, user.id)).is_active is True


async def test_non_admin_delete_of_another_user_is_404(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()
    other = await users()

    response = await client.delete(f"/api/v1/users/{other.id}", headers=users.headers(user))

    assert_error(response, 404, "not_found")
    assert (await stored_user(sessionmaker, other.id)).is_active is True


async def test_admin_delete_of_itself_by_id_is_403(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await users.admin()

    response = await client.delete(f"/api/v1/users/{admin.id}", headers=users.headers(admin))

    body = assert_error(response, 403, "forbidden")
    assert body["detail"] == "Administrators cannot deactivate themselves"
    assert (await stored_user(sessionmaker, admin.id)).is_active is True
