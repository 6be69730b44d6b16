"""The administrators' view of the audit log: GET /api/v1/admin/audit, its filters and pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from httpx import AsyncClient

from tests.factories import DomainFactory, unique_email
from tests.support.api import API, assert_error, login, login_ok
from tests.support.audit import (
    ADMIN_AUDIT,
    ENTRY_FIELDS,
    LOCAL_IP,
    at,
    days_ago,
    link_queries,
    listed,
    new_request_id,
    traced,
)

# --- GET /admin/audit ---------------------------------------------------------------------


async def test_admin_audit_requires_credentials(client: AsyncClient) -> None:
    assert_error(await client.get(ADMIN_AUDIT), 401, "not_authenticated")


async def test_admin_audit_is_forbidden_to_a_regular_user(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    assert_error(await client.get(ADMIN_AUDIT, headers=make.headers(user)), 403, "forbidden")


async def test_admin_audit_refuses_an_admin_api_key_without_users_read(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin = await make.admin()
    headers = make.headers(admin)
    keys = {}
    for scopes in (["projects:read", "tasks:read"], ["users:read"]):
        created = await client.post(
            f"{API}/api-keys", json={"name": "k", "scopes": scopes}, headers=headers
        )
        assert created.status_code == 201, created.text
        keys[scopes[0]] = created.json()["key"]

    refused = await client.get(ADMIN_AUDIT, headers={"X-API-Key": keys["projects:read"]})
    allowed = await client.get(ADMIN_AUDIT, headers={"X-API-Key": keys["users:read"]})

    assert_error(refused, 403, "insufficient_scope")
    assert allowed.status_code == 200, allowed.text


async def test_admin_audit_lists_entries_newest_first_with_every_field(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, user = await make.admin(), await make()
    # Written out of time order, so an order by id would not pass for newest first.
    order = {2: new_request_id(), 3: new_request_id(), 1: new_request_id()}
    for days, request_id in order.items():
        with at(days_ago(days)):
            assert (await login(client, user.email, headers=traced(request_id))).status_code == 200

    body, response = await listed(client, ADMIN_AUDIT, make.headers(admin))

    assert response.headers["X-Total-Count"] == "3"
    assert [entry["request_id"] for entry in body] == [order[1], order[2], order[3]]
    times = [datetime.fromisoformat(entry["created_at"]) for entry in body]
    assert times == sorted(times, reverse=True)
    assert all(set(entry) == ENTRY_FIELDS for entry in body)
    assert body[0]["event"] == "login_success"
    assert body[0]["actor_id"] == user.id
    assert body[0]["subject_user_id"] == user.id
    assert body[0]["ip"] == LOCAL_IP
    assert body[0]["details"] == {}


async def test_admin_audit_user_filter_matches_entries_by_or_about_the_user(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, alice, bob = await make.admin(), await make(), await make()
    admin_headers = make.headers(admin)
    promoted = await client.patch(
        f"{API}/users/{alice.id}", json={"role": "admin"}, headers=admin_headers
    )
    assert promoted.status_code == 200, promoted.text  # by admin, about alice
    await login_ok(client, alice.email)  # by and about alice
    await login_ok(client, bob.email)  # bob only
    assert (await login(client, unique_email("none"), "nope-nope-1")).status_code == 401

    everything, _ = await listed(client, ADMIN_AUDIT, admin_headers)
    of_alice, alice_response = await listed(client, ADMIN_AUDIT, admin_headers, user_id=alice.id)
    of_admin, _ = await listed(client, ADMIN_AUDIT, admin_headers, user_id=admin.id)
    of_bob, _ = await listed(client, ADMIN_AUDIT, admin_headers, user_id=bob.id)

    assert len(everything) == 4
    assert [e["event"] for e in of_alice] == ["login_success", "role_changed"]
    assert all(alice.id in (e["actor_id"], e["subject_user_id"]) for e in of_alice)
    assert alice_response.headers["X-Total-Count"] == "2"
    assert [(e["event"], e["actor_id"], e["subject_user_id"]) for e in of_admin] == [
        ("role_changed", admin.id, alice.id)
    ]
    assert [(e["event"], e["subject_user_id"]) for e in of_bob] == [("login_success", bob.id)]


async def test_admin_audit_event_filter_returns_only_that_event(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, user = await make.admin(), await make()
    await login_ok(client, user.email)
    for _ in range(2):
        assert (await login(client, user.email, "wrong-password-8")).status_code == 401

    body, response = await listed(client, ADMIN_AUDIT, make.headers(admin), event="login_failure")

    assert response.headers["X-Total-Count"] == "2"
    assert [entry["event"] for entry in body] == ["login_failure", "login_failure"]
    assert all(entry["details"] == {"reason": "wrong_password"} for entry in body)


async def test_admin_audit_rejects_an_unknown_event_with_422(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin = await make.admin()
    response = await client.get(
        ADMIN_AUDIT, params={"event": "password_stolen"}, headers=make.headers(admin)
    )
    assert_error(response, 422, "validation_error")


async def test_admin_audit_since_is_inclusive_and_until_exclusive(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, user = await make.admin(), await make()
    for days in (3, 2, 1):
        with at(days_ago(days)):
            await login_ok(client, user.email)
    headers = make.headers(admin)
    everything, _ = await listed(client, ADMIN_AUDIT, headers)
    newest, middle, oldest = everything
    middle_at = datetime.fromisoformat(middle["created_at"])
    newest_at = datetime.fromisoformat(newest["created_at"])

    since, since_response = await listed(client, ADMIN_AUDIT, headers, since=middle_at.isoformat())
    until, _ = await listed(client, ADMIN_AUDIT, headers, until=newest_at.isoformat())
    between, _ = await listed(
        client, ADMIN_AUDIT, headers, since=middle_at.isoformat(), until=newest_at.isoformat()
    )

    assert [e["id"] for e in since] == [newest["id"], middle["id"]]
    assert since_response.headers["X-Total-Count"] == "2"
    assert [e["id"] for e in until] == [middle["id"], oldest["id"]]
    assert [e["id"] for e in between] == [middle["id"]]


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+00:01"])
async def test_admin_audit_refuses_times_outside_the_calendar_in_utc(
    client: AsyncClient, make: DomainFactory, name: str, value: str
) -> None:
    admin = await make.admin()

    response = await client.get(ADMIN_AUDIT, params={name: value}, headers=make.headers(admin))

    assert_error(response, 422, "validation_error")
    assert response.json()["detail"][0]["loc"] == ["query", name]


async def test_admin_audit_takes_the_first_and_last_instants_of_the_calendar(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin = await make.admin()
    await login_ok(client, (await make()).email)
    headers = make.headers(admin)

    everything, _ = await listed(
        client, ADMIN_AUDIT, headers, since="0001-01-01T00:00:00Z", until="9999-12-31T23:59:59Z"
    )
    nothing, _ = await listed(client, ADMIN_AUDIT, headers, since="9999-12-31T23:59:59Z")

    assert len(everything) == 1
    assert nothing == []


async def test_admin_audit_time_filters_read_offsets_and_refuse_naive_times(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, user = await make.admin(), await make()
    for days in (2, 1):
        with at(days_ago(days)):
            await login_ok(client, user.email)
    headers = make.headers(admin)
    newest, _ = (await listed(client, ADMIN_AUDIT, headers))[0]
    newest_at = datetime.fromisoformat(newest["created_at"]).astimezone(UTC)

    in_plus_two = newest_at.astimezone(timezone(timedelta(hours=2))).isoformat()
    naive_utc = newest_at.replace(tzinfo=None).isoformat()
    with_offset, _ = await listed(client, ADMIN_AUDIT, headers, since=in_plus_two)
    naive = await client.get(ADMIN_AUDIT, params={"since": naive_utc}, headers=headers)

    assert [e["id"] for e in with_offset] == [newest["id"]]
    assert naive.status_code == 422
    assert naive.json()["detail"][0]["loc"] == ["query", "since"]


async def test_admin_audit_pages_with_total_count_and_link_headers(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin = await make.admin()
    for days in range(5, 0, -1):
        with at(days_ago(days)):
            assert (await login(client, unique_email("stranger"), "pass-4")).status_code == 401
    headers = make.headers(admin)
    everything, _ = await listed(client, ADMIN_AUDIT, headers)
    assert len(everything) == 5

    first, first_response = await listed(client, ADMIN_AUDIT, headers, limit=2)
    second, second_response = await listed(client, ADMIN_AUDIT, headers, skip=2, limit=2)
    last, last_response = await listed(client, ADMIN_AUDIT, headers, skip=4, limit=2)

    assert [e["id"] for e in first + second + last] == [e["id"] for e in everything]
    for response in (first_response, second_response, last_response):
        assert response.headers["X-Total-Count"] == "5"
    assert link_queries(first_response) == {"next": {"skip": ["2"], "limit": ["2"]}}
    assert link_queries(second_response) == {
        "next": {"skip": ["4"], "limit": ["2"]},
        "prev": {"skip": ["0"], "limit": ["2"]},
    }
    assert link_queries(last_response) == {"prev": {"skip": ["2"], "limit": ["2"]}}


async def test_admin_audit_paging_keeps_the_filters_in_the_links(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, user, other = await make.admin(), await make(), await make()
    for _ in range(3):
        await login_ok(client, user.email)
    await login_ok(client, other.email)

    body, response = await listed(
        client, ADMIN_AUDIT, make.headers(admin), user_id=user.id, event="login_success", limit=2
    )

    assert len(body) == 2
    assert response.headers["X-Total-Count"] == "3"
    assert link_queries(response)["next"] == {
        "user_id": [str(user.id)],
        "event": ["login_success"],
        "skip": ["2"],
        "limit": ["2"],
    }
