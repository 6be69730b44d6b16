"""/api/v1/users: the caller's profile, and the admin's view of every account."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.users.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory, unique_email
from tests.support.mailbox import Mailbox

USER_FIELDS = {
    "id",
    "email",
    "full_name",
    "role",
    "is_active",
    "is_verified",
    "created_at",
    "updated_at",
}
ERROR_FIELDS = {"detail", "error", "request_id"}
_LINK = re.compile(r'<(?P<url>[^>]+)>;\s*rel="(?P<rel>[a-z]+)"')


# --- helpers -------------------------------------------------------------------------------


async def login(client: AsyncClient, email: str, password: str = DEFAULT_PASSWORD) -> Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def logged_in(client: AsyncClient, user: User) -> tuple[dict[str, str], str]:
    """Bearer headers and the refresh token of a real login."""
    response = await login(client, user.email)
    assert response.status_code == 200, response.text
    tokens = response.json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}, tokens["refresh_token"]


async def create_key(client: AsyncClient, headers: dict[str, str], *scopes: str) -> str:
    response = await client.post(
        "/api/v1/api-keys", json={"name": "script", "scopes": list(scopes)}, headers=headers
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


async def stored_user(sessionmaker: async_sessionmaker[AsyncSession], user_id: int) -> User:
    async with sessionmaker() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


def assert_error(response: Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_FIELDS
    assert body["error"] == error
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def links(response: Response) -> dict[str, str]:
    return {
        match["rel"]: match["url"] for match in _LINK.finditer(response.headers.get("Link", ""))
    }


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


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
    headers, _ = await logged_in(client, user)

    response = await client.delete("/api/v1/users/me", headers=headers)

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert (await stored_user(sessionmaker, user.id)).is_active is False
    after = await client.get("/api/v1/users/me", headers=headers)
    assert_error(after, 401, "invalid_token")
    assert after.headers["WWW-Authenticate"] == "Bearer"


async def test_delete_me_makes_refresh_tokens_fail(client: AsyncClient, users: UserFactory) -> None:
    user = await users()
    headers, refresh_token = await logged_in(client, user)
    _, other_login_refresh = await logged_in(client, user)

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
    key = await create_key(client, headers, "users:read")
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


# --- GET /users ----------------------------------------------------------------------------


async def test_list_users_is_403_for_a_non_admin(client: AsyncClient, users: UserFactory) -> None:
    user = await users()

    response = await client.get("/api/v1/users", headers=users.headers(user))

    body = assert_error(response, 403, "forbidden")
    assert user.email not in response.text
    assert isinstance(body["detail"], str)


async def test_list_users_for_admin_returns_everyone_with_total(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    others = [await users() for _ in range(3)]

    response = await client.get("/api/v1/users", headers=users.headers(admin))

    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body] == sorted([admin.id, *(user.id for user in others)])
    assert response.headers["X-Total-Count"] == "4"
    for item in body:
        assert set(item) == USER_FIELDS


async def test_list_users_search_matches_email_case_insensitively(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    tag = uuid.uuid4().hex[:10]
    match = await users(email=unique_email(f"mail{tag}"), full_name="Someone")
    await users(full_name="Nobody")

    response = await client.get(
        "/api/v1/users", params={"search": f"MAIL{tag.upper()}"}, headers=users.headers(admin)
    )

    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()] == [match.id]
    assert response.headers["X-Total-Count"] == "1"


async def test_list_users_search_matches_name_case_insensitively(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    tag = uuid.uuid4().hex[:10]
    match = await users(full_name=f"Ada Lovelace{tag.upper()}")
    await users(full_name="Charles Babbage")

    response = await client.get(
        "/api/v1/users", params={"search": f"lovelace{tag}"}, headers=users.headers(admin)
    )

    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()] == [match.id]
    assert response.headers["X-Total-Count"] == "1"


async def test_list_users_search_treats_wildcards_literally(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    await users(full_name="Plain Name")

    response = await client.get(
        "/api/v1/users", params={"search": "%"}, headers=users.headers(admin)
    )

    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"


async def test_list_users_stays_in_id_order_after_users_change(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    first, second, third = await users(), await users(), await users()
    headers = users.headers(admin)
    for user in (first, second):  # rewritten rows may move in the table's storage
        response = await client.patch(
            f"/api/v1/users/{user.id}", json={"full_name": "Renamed"}, headers=headers
        )
        assert response.status_code == 200, response.text

    listed = await client.get("/api/v1/users", headers=headers)

    assert [item["id"] for item in listed.json()] == [admin.id, first.id, second.id, third.id]


async def test_list_users_pages_with_total_count_and_link_header(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    ids = sorted([admin.id, *[(await users()).id for _ in range(4)]])
    headers = users.headers(admin)

    first = await client.get("/api/v1/users", params={"limit": 2}, headers=headers)
    assert first.status_code == 200, first.text
    assert [item["id"] for item in first.json()] == ids[:2]
    assert first.headers["X-Total-Count"] == "5"
    first_links = links(first)
    assert set(first_links) == {"next"}
    assert query_of(first_links["next"]) == {"skip": ["2"], "limit": ["2"]}

    middle = await client.get(first_links["next"], headers=headers)
    assert [item["id"] for item in middle.json()] == ids[2:4]
    assert middle.headers["X-Total-Count"] == "5"
    middle_links = links(middle)
    assert set(middle_links) == {"next", "prev"}
    assert query_of(middle_links["next"]) == {"skip": ["4"], "limit": ["2"]}
    assert query_of(middle_links["prev"]) == {"skip": ["0"], "limit": ["2"]}

    last = await client.get(middle_links["next"], headers=headers)
    assert [item["id"] for item in last.json()] == ids[4:]
    last_links = links(last)
    assert set(last_links) == {"prev"}
    assert query_of(last_links["prev"]) == {"skip": ["2"], "limit": ["2"]}


async def test_list_users_link_keeps_the_search(client: AsyncClient, users: UserFactory) -> None:
    admin = await users.admin()
    tag = uuid.uuid4().hex[:10]
    for _ in range(3):
        await users(full_name=f"Member {tag}")

    response = await client.get(
        "/api/v1/users", params={"search": tag, "limit": 2}, headers=users.headers(admin)
    )

    assert response.headers["X-Total-Count"] == "3"
    assert query_of(links(response)["next"]) == {"search": [tag], "skip": ["2"], "limit": ["2"]}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"skip": -1}, "skip"), ({"limit": 0}, "limit"), ({"limit": 101}, "limit")],
    ids=["skip=-1", "limit=0", "limit=101"],
)
async def test_list_users_out_of_bounds_paging_is_422(
    client: AsyncClient, users: UserFactory, params: dict[str, int], field: str
) -> None:
    admin = await users.admin()

    response = await client.get("/api/v1/users", params=params, headers=users.headers(admin))

    error = assert_error(response, 422, "validation_error")
    assert [item["loc"] for item in error["detail"]] == [["query", field]]


async def test_list_users_accepts_the_paging_bounds(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    headers = users.headers(admin)

    for params in ({"skip": 0, "limit": 1}, {"limit": 100}):
        response = await client.get("/api/v1/users", params=params, headers=headers)
        assert response.status_code == 200, response.text


# --- POST /users ---------------------------------------------------------------------------


async def test_admin_creates_a_user_with_a_role_who_can_log_in(
    client: AsyncClient, users: UserFactory, mailbox: Mailbox
) -> None:
    admin = await users.admin()
    email = unique_email("created")

    response = await client.post(
        "/api/v1/users",
        json={
            "email": email.upper(),
            "password": "brand-new-pass-1",
            "full_name": "Second Admin",
            "role": "admin",
        },
        headers=users.headers(admin),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == USER_FIELDS
    assert (body["email"], body["role"], body["full_name"]) == (email, "admin", "Second Admin")
    assert body["is_active"] is True
    assert (await login(client, email, "brand-new-pass-1")).status_code == 200
    assert mailbox.last_to(email).link_token("verify-email")


async def test_admin_creates_a_plain_user_by_default(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()

    response = await client.post(
        "/api/v1/users",
        json={"email": unique_email(), "password": "brand-new-pass-1", "full_name": "Plain"},
        headers=users.headers(admin),
    )

    assert response.status_code == 201, response.text
    assert response.json()["role"] == "user"


async def test_admin_create_user_with_a_taken_email_is_409(
    client: AsyncClient, users: UserFactory
) -> None:
    admin = await users.admin()
    existing = await users()

    response = await client.post(
        "/api/v1/users",
        json={"email": existing.email.upper(), "password": "brand-new-pass-1", "full_name": "Dup"},
        headers=users.headers(admin),
    )

    assert_error(response, 409, "email_taken")


async def test_non_admin_cannot_create_users(client: AsyncClient, users: UserFactory) -> None:
    user = await users()
    email = unique_email()

    response = await client.post(
        "/api/v1/users",
        json={"email": email, "password": "brand-new-pass-1", "full_name": "Nope"},
        headers=users.headers(user),
    )

    assert_error(response, 403, "forbidden")
    assert (await login(client, email, "brand-new-pass-1")).status_code == 401


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
    headers, refresh_token = await logged_in(client, user)
    key = await create_key(client, headers, "users:read")

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
    _, refresh_token = await logged_in(client, user)
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
