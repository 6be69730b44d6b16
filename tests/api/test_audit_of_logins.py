"""The audit entries of logging in and of refresh tokens, and the client address they record."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient

from taskflow.audit.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD, DomainFactory, unique_email
from tests.support.api import API, Sessions, assert_error, login, login_ok
from tests.support.audit import (
    LOCAL_IP,
    as_json,
    assert_entry,
    assert_no_secrets,
    new_request_id,
    of_request,
    stored,
    the_one,
    traced,
    window,
)

# --- logging in ---------------------------------------------------------------------------


async def test_login_success_is_recorded_once_with_actor_subject_ip_and_request_id(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    user = await make()
    request_id = new_request_id()

    with window() as moments:
        response = await login(client, user.email, headers=traced(request_id))

    assert response.status_code == 200, response.text
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.LOGIN_SUCCESS, request_id)
    assert_entry(
        entry,
        actor_id=user.id,
        subject_user_id=user.id,
        details={},
        between=(moments[0], moments[1]),
    )
    assert [e.event for e in entries] == ["login_success"]
    tokens = response.json()
    assert_no_secrets(
        entries,
        DEFAULT_PASSWORD,
        user.password_hash,
        tokens["access_token"],
        tokens["refresh_token"],
    )


async def test_login_failure_for_an_unknown_email_is_recorded_although_it_answers_401(
    client: AsyncClient, sessionmaker: Sessions
) -> None:
    email = unique_email("nobody")
    request_id = new_request_id()

    response = await login(client, email.upper(), "guessed-password-3", headers=traced(request_id))

    assert_error(response, 401, "invalid_credentials")
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.LOGIN_FAILURE, request_id)
    assert_entry(
        entry,
        actor_id=None,
        subject_user_id=None,
        details={"reason": "unknown_email", "email": email},
    )
    assert [e.event for e in entries] == ["login_failure"]
    assert_no_secrets(entries, "guessed-password-3")


@pytest.mark.parametrize(
    "username",
    [pytest.param("u" * 100_000, id="100000-characters"), pytest.param("not an email", id="words")],
)
async def test_a_form_login_with_a_username_that_is_no_email_stores_no_email_and_stays_small(
    client: AsyncClient, sessionmaker: Sessions, username: str
) -> None:
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/token",
        data={"username": username, "password": "guessed-password-3"},
        headers=traced(request_id),
    )

    assert_error(response, 401, "invalid_credentials")
    entry = the_one(await stored(sessionmaker), AuditEvent.LOGIN_FAILURE, request_id)
    assert entry.details == {
        "reason": "unknown_email",
        "identifier_sha256": hashlib.sha256(username.encode()).hexdigest()[:16],
        "identifier_length": len(username),
    }
    assert len(as_json(entry)) < 1000


async def test_a_form_login_with_a_plausible_but_unknown_email_stores_it(
    client: AsyncClient, sessionmaker: Sessions
) -> None:
    email = unique_email("form")
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/token",
        data={"username": email, "password": "guessed-password-3"},
        headers=traced(request_id),
    )

    assert_error(response, 401, "invalid_credentials")
    entry = the_one(await stored(sessionmaker), AuditEvent.LOGIN_FAILURE, request_id)
    assert entry.details == {"reason": "unknown_email", "email": email}


@pytest.mark.parametrize(
    ("reason", "fields", "password", "error"),
    [
        pytest.param(
            "wrong_password", {}, "not-the-password-1", "invalid_credentials", id="wrong-password"
        ),
        pytest.param(
            "inactive", {"is_active": False}, DEFAULT_PASSWORD, "invalid_credentials", id="inactive"
        ),
        pytest.param("locked", {"locked": True}, DEFAULT_PASSWORD, "account_locked", id="locked"),
    ],
)
async def test_login_failure_of_a_known_account_is_recorded_with_its_reason(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: Sessions,
    reason: str,
    fields: dict[str, Any],
    password: str,
    error: str,
) -> None:
    arranged = {name: value for name, value in fields.items() if name != "locked"}
    if fields.get("locked"):
        arranged["locked_until"] = datetime.now(UTC) + timedelta(minutes=10)
    user = await make(**arranged)
    request_id = new_request_id()

    response = await login(client, user.email, password, headers=traced(request_id))

    assert_error(response, 401, error)  # the request fails, its audit entry is kept
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.LOGIN_FAILURE, request_id)
    assert_entry(entry, actor_id=None, subject_user_id=user.id, details={"reason": reason})
    assert [e.event for e in entries] == ["login_failure"]
    assert_no_secrets(entries, password, user.password_hash)


@pytest.mark.settings(lockout_threshold=2, lockout_minutes=7)
async def test_account_locked_is_recorded_once_by_the_failure_that_reaches_the_threshold(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    user = await make()
    first, second, third = new_request_id(), new_request_id(), new_request_id()

    assert_error(
        await login(client, user.email, "wrong-one-1", headers=traced(first)),
        401,
        "invalid_credentials",
    )
    assert [e.event for e in of_request(await stored(sessionmaker), first)] == ["login_failure"]

    assert_error(
        await login(client, user.email, "wrong-two-2", headers=traced(second)),
        401,
        "invalid_credentials",
    )
    entries = await stored(sessionmaker)
    locked = the_one(entries, AuditEvent.ACCOUNT_LOCKED, second)
    assert_entry(locked, actor_id=None, subject_user_id=user.id, details={"minutes": 7})
    assert sorted(e.event for e in of_request(entries, second)) == [
        "account_locked",
        "login_failure",
    ]

    # Refused while locked: one more failure, no second lock.
    assert_error(await login(client, user.email, headers=traced(third)), 401, "account_locked")
    entries = await stored(sessionmaker)
    the_one(entries, AuditEvent.ACCOUNT_LOCKED, second)
    [refused] = of_request(entries, third)
    assert refused.event == "login_failure"
    assert refused.details == {"reason": "locked"}
    assert_no_secrets(entries, "wrong-one-1", "wrong-two-2", DEFAULT_PASSWORD)


# --- tokens -------------------------------------------------------------------------------


async def test_token_refresh_is_recorded_once_without_the_tokens(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    user = await make()
    tokens = await login_ok(client, user.email)
    request_id = new_request_id()

    with window() as moments:
        response = await client.post(
            f"{API}/auth/refresh",
            json={"refresh_token": tokens["refresh_token"]},
            headers=traced(request_id),
        )

    assert response.status_code == 200, response.text
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.TOKEN_REFRESH, request_id)
    assert_entry(
        entry,
        actor_id=user.id,
        subject_user_id=user.id,
        details={},
        between=(moments[0], moments[1]),
    )
    assert [e.event for e in of_request(entries, request_id)] == ["token_refresh"]
    renewed = response.json()
    assert_no_secrets(
        entries,
        tokens["refresh_token"],
        tokens["access_token"],
        renewed["refresh_token"],
        renewed["access_token"],
    )


async def test_token_reuse_is_recorded_although_it_answers_401(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    user = await make()
    tokens = await login_ok(client, user.email)
    spent = tokens["refresh_token"]
    rotated = await client.post(f"{API}/auth/refresh", json={"refresh_token": spent})
    assert rotated.status_code == 200, rotated.text
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": spent}, headers=traced(request_id)
    )

    assert_error(response, 401, "token_reuse_detected")
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.TOKEN_REUSE_DETECTED, request_id)
    assert_entry(entry, actor_id=None, subject_user_id=user.id, details={"family_revoked": True})
    assert [e.event for e in of_request(entries, request_id)] == ["token_reuse_detected"]
    assert_no_secrets(entries, spent, rotated.json()["refresh_token"])


async def test_logout_is_recorded_once_without_the_refresh_token(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    user = await make()
    tokens = await login_ok(client, user.email)
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=traced(request_id),
    )

    assert response.status_code == 204, response.text
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.LOGOUT, request_id)
    assert_entry(entry, actor_id=user.id, subject_user_id=user.id, details={})
    assert_no_secrets(entries, tokens["refresh_token"], tokens["access_token"])


# --- the client address -------------------------------------------------------------------


@pytest.mark.settings(trusted_proxies=["127.0.0.1"])
@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        pytest.param("203.0.113.9", "203.0.113.9", id="one-hop"),
        # Only the hop our proxy saw is believed; what the client wrote before it is not.
        pytest.param("198.51.100.1, 203.0.113.9", "203.0.113.9", id="spoofed-first-hop"),
        pytest.param("203.0.113.9, 127.0.0.1", "203.0.113.9", id="through-two-proxies"),
    ],
)
async def test_ip_comes_from_x_forwarded_for_when_the_peer_is_a_trusted_proxy(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: Sessions,
    forwarded_for: str,
    expected: str,
) -> None:
    user = await make()
    request_id = new_request_id()

    response = await login(
        client, user.email, headers=traced(request_id, {"X-Forwarded-For": forwarded_for})
    )

    assert response.status_code == 200, response.text
    entry = the_one(await stored(sessionmaker), AuditEvent.LOGIN_SUCCESS, request_id)
    assert entry.ip == expected


@pytest.mark.parametrize(
    "trusted",
    [
        pytest.param("none", id="no-trusted-proxies"),
        pytest.param(
            "other",
            id="peer-not-trusted",
            marks=pytest.mark.settings(trusted_proxies=["10.0.0.0/8"]),
        ),
    ],
)
async def test_ip_ignores_x_forwarded_for_unless_the_peer_is_a_trusted_proxy(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions, trusted: str
) -> None:
    user = await make()
    request_id = new_request_id()

    failed = await login(
        client,
        user.email,
        "wrong-password-5",
        headers=traced(request_id, {"X-Forwarded-For": "203.0.113.9"}),
    )

    assert_error(failed, 401, "invalid_credentials")
    entry = the_one(await stored(sessionmaker), AuditEvent.LOGIN_FAILURE, request_id)
    assert entry.ip == LOCAL_IP
