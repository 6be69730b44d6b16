"""A user's own audit log, GET /api/v1/users/me/audit, and no secret in any entry."""

from __future__ import annotations

from httpx import AsyncClient

from tests.factories import DEFAULT_PASSWORD, DomainFactory, unique_email
from tests.support.api import API, Sessions, assert_error, bearer, login, login_ok
from tests.support.audit import (
    MY_AUDIT,
    NEW_PASSWORD,
    assert_no_secrets,
    at,
    days_ago,
    listed,
    new_request_id,
    stored,
    traced,
)
from tests.support.mailbox import Mailbox

# --- GET /users/me/audit ------------------------------------------------------------------


async def test_my_audit_requires_credentials(client: AsyncClient) -> None:
    assert_error(await client.get(MY_AUDIT), 401, "not_authenticated")


async def test_my_audit_shows_only_the_callers_own_events_newest_first(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, alice, bob = await make.admin(), await make(), await make()
    # Alice's events, written out of time order.
    with at(days_ago(2)):
        alice_login = new_request_id()
        assert (await login(client, alice.email, headers=traced(alice_login))).status_code == 200
    with at(days_ago(3)):
        alice_key = new_request_id()
        created = await client.post(
            f"{API}/api-keys",
            json={"name": "mine", "scopes": ["tasks:read"]},
            headers=traced(alice_key, make.headers(alice)),
        )
        assert created.status_code == 201, created.text
    with at(days_ago(1)):
        alice_promoted = new_request_id()
        promoted = await client.patch(
            f"{API}/users/{alice.id}",
            json={"role": "admin"},
            headers=traced(alice_promoted, make.headers(admin)),
        )
        assert promoted.status_code == 200, promoted.text
    # Everyone else's.
    await login_ok(client, bob.email)
    assert (await login(client, bob.email, "wrong-password-6")).status_code == 401
    assert (await login(client, unique_email("anon"), "wrong-password-7")).status_code == 401

    mine, response = await listed(client, MY_AUDIT, make.headers(alice))
    bobs, _ = await listed(client, MY_AUDIT, make.headers(bob))

    assert [e["request_id"] for e in mine] == [alice_promoted, alice_login, alice_key]
    assert [e["event"] for e in mine] == ["role_changed", "login_success", "api_key_created"]
    assert response.headers["X-Total-Count"] == "3"
    assert all(alice.id in (e["actor_id"], e["subject_user_id"]) for e in mine)
    assert [e["event"] for e in bobs] == ["login_failure", "login_success"]
    assert all(e["subject_user_id"] == bob.id for e in bobs)
    assert not {e["id"] for e in mine} & {e["id"] for e in bobs}


async def test_my_audit_ignores_a_user_id_for_someone_else(
    client: AsyncClient, make: DomainFactory
) -> None:
    alice, bob = await make(), await make()
    await login_ok(client, bob.email)

    body, response = await listed(client, MY_AUDIT, make.headers(alice), user_id=bob.id)

    assert body == []
    assert response.headers["X-Total-Count"] == "0"


# --- nothing secret anywhere --------------------------------------------------------------


async def test_no_entry_of_a_whole_account_lifecycle_holds_a_secret(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions, mailbox: Mailbox
) -> None:
    user = await make(is_verified=False)
    tokens = await login_ok(client, user.email)
    headers = bearer(tokens["access_token"])
    assert (
        await client.post(f"{API}/auth/verify-email/resend", headers=headers)
    ).status_code == 204
    verify_token = mailbox.last_to(user.email).link_token("verify-email")
    assert (
        await client.post(f"{API}/auth/verify-email", json={"token": verify_token})
    ).status_code == 204
    rotated = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert rotated.status_code == 200
    reused = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert reused.status_code == 401
    key = await client.post(
        f"{API}/api-keys", json={"name": "k", "scopes": ["users:read"]}, headers=headers
    )
    assert key.status_code == 201
    api_key = key.json()["key"]
    assert (
        await client.delete(f"{API}/api-keys/{key.json()['id']}", headers=headers)
    ).status_code == 204
    assert (
        await client.post(f"{API}/auth/password-reset", json={"email": user.email})
    ).status_code == 202
    reset_token = mailbox.last_to(user.email).link_token("reset-password")
    confirmed = await client.post(
        f"{API}/auth/password-reset/confirm",
        json={"token": reset_token, "new_password": NEW_PASSWORD},
    )
    assert confirmed.status_code == 204
    assert (await login(client, user.email, "typo-password-2")).status_code == 401
    final = await login(client, user.email, NEW_PASSWORD)
    assert final.status_code == 200
    changed = await client.post(
        f"{API}/auth/change-password",
        json={"current_password": NEW_PASSWORD, "new_password": "third-password-3"},
        headers=bearer(final.json()["access_token"]),
    )
    assert changed.status_code == 204
    out = await client.post(
        f"{API}/auth/logout", json={"refresh_token": final.json()["refresh_token"]}
    )
    assert out.status_code == 204

    entries = await stored(sessionmaker)
    assert {e.event for e in entries} >= {
        "login_success",
        "login_failure",
        "email_verified",
        "token_refresh",
        "token_reuse_detected",
        "api_key_created",
        "api_key_revoked",
        "password_reset_requested",
        "password_reset_completed",
        "password_changed",
        "logout",
    }
    assert_no_secrets(
        entries,
        DEFAULT_PASSWORD,
        NEW_PASSWORD,
        "third-password-3",
        "typo-password-2",
        tokens["access_token"],
        tokens["refresh_token"],
        rotated.json()["refresh_token"],
        final.json()["refresh_token"],
        verify_token,
        reset_token,
        api_key,
    )
