"""Administrators listing users and creating them through /api/v1/users."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx import AsyncClient

from tests.factories import UserFactory, unique_email
from tests.support.api import (
    USER_FIELDS,
    assert_error,
    links,
    login,
)
from tests.support.mailbox import Mailbox


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


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
