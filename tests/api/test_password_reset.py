"""Changing a password and resetting a forgotten one by email, through /api/v1/auth."""

from __future__ import annotations

import hashlib

import pytest
import time_machine
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.config import Settings
from taskflow.core import security
from taskflow.users.models import OneTimeToken, TokenPurpose, User
from tests.factories import DEFAULT_PASSWORD, UserFactory, unique_email
from tests.support.api import (
    NEW_PASSWORD,
    RESET_ACCEPTED,
    Sessions,
    assert_error,
    change_password,
    confirm_reset,
    deactivate_in_database,
    fail_logins,
    later,
    login,
    login_ok,
    me,
    refresh,
    register,
    request_reset,
    verify,
)
from tests.support.mailbox import Mailbox

# --- change password ----------------------------------------------------------------------


async def test_change_password_switches_the_password(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()

    response = await change_password(client, users.headers(user), DEFAULT_PASSWORD, NEW_PASSWORD)

    assert response.status_code == 204, response.text
    assert (await login(client, user.email, NEW_PASSWORD)).status_code == 200
    assert_error(await login(client, user.email, DEFAULT_PASSWORD), 401, "invalid_credentials")


async def test_change_password_revokes_every_refresh_token(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    first_login = (await login_ok(client, user.email))["refresh_token"]
    second_login = (await login_ok(client, user.email))["refresh_token"]

    response = await change_password(client, users.headers(user), DEFAULT_PASSWORD, NEW_PASSWORD)

    assert response.status_code == 204
    assert_error(await refresh(client, first_login), 401, "invalid_token")
    assert_error(await refresh(client, second_login), 401, "invalid_token")


async def test_change_password_with_wrong_current_password_is_400(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()

    response = await change_password(client, users.headers(user), "not-my-pass-1", NEW_PASSWORD)

    assert_error(response, 400, "invalid_password")
    assert (await login(client, user.email)).status_code == 200


@pytest.mark.parametrize(
    "new_password",
    [
        pytest.param("short1a", id="too-short"),
        pytest.param("a1" * 64 + "b", id="too-long"),
        pytest.param("123456789", id="no-letter"),
        pytest.param("abcdefghi", id="no-digit"),
    ],
)
async def test_change_password_applies_the_password_policy(
    client: AsyncClient, users: UserFactory, new_password: str
) -> None:
    user = await users()

    response = await change_password(client, users.headers(user), DEFAULT_PASSWORD, new_password)

    body = assert_error(response, 422, "validation_error")
    assert ["body", "new_password"] in [item["loc"] for item in body["detail"]]
    assert (await login(client, user.email)).status_code == 200


async def test_change_password_unauthenticated_is_401(client: AsyncClient) -> None:
    response = await change_password(client, {}, DEFAULT_PASSWORD, NEW_PASSWORD)

    assert_error(response, 401, "not_authenticated")


async def test_change_password_with_an_api_key_is_403_session_required(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "script", "scopes": ["users:read", "users:write"]},
        headers=users.headers(user),
    )
    assert created.status_code == 201, created.text
    key_headers = {"X-API-Key": created.json()["key"]}
    assert (await me(client, key_headers)).status_code == 200  # the key itself works

    response = await change_password(client, key_headers, DEFAULT_PASSWORD, NEW_PASSWORD)

    assert_error(response, 403, "session_required")
    assert (await login(client, user.email)).status_code == 200


# --- password reset -----------------------------------------------------------------------


async def test_password_reset_for_unknown_email_is_202_and_sends_nothing(
    client: AsyncClient, mailbox: Mailbox
) -> None:
    response = await request_reset(client, unique_email("ghost"))

    assert response.status_code == 202, response.text
    assert response.json() == {"detail": RESET_ACCEPTED}
    assert mailbox.messages == []


async def test_password_reset_for_inactive_user_is_202_and_sends_nothing(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    user = await users(is_active=False)

    response = await request_reset(client, user.email)

    assert response.status_code == 202
    assert mailbox.messages == []


async def test_password_reset_emails_a_link_to_a_known_user(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory, settings: Settings
) -> None:
    user = await users()

    response = await request_reset(client, user.email.upper())

    assert response.status_code == 202
    # The same body as for an unknown email: the answer does not tell whether one exists.
    assert response.json() == {"detail": RESET_ACCEPTED}
    message = mailbox.last_to(user.email)
    token = message.link_token("reset-password")
    assert f"{settings.frontend_base}/reset-password?token={token}" in message.body
    assert len(mailbox.messages) == 1


async def test_password_reset_token_sets_a_new_password(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    user = await users()
    await request_reset(client, user.email)
    token = mailbox.last_to(user.email).link_token("reset-password")

    response = await confirm_reset(client, token, NEW_PASSWORD)

    assert response.status_code == 204, response.text
    assert (await login(client, user.email, NEW_PASSWORD)).status_code == 200
    assert_error(await login(client, user.email, DEFAULT_PASSWORD), 401, "invalid_credentials")


async def test_password_reset_token_works_only_once(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    user = await users()
    await request_reset(client, user.email)
    token = mailbox.last_to(user.email).link_token("reset-password")
    assert (await confirm_reset(client, token, NEW_PASSWORD)).status_code == 204

    assert_error(await confirm_reset(client, token, "another-pass-77"), 400, "invalid_token")

    assert (await login(client, user.email, NEW_PASSWORD)).status_code == 200


async def test_password_reset_token_is_valid_until_it_expires(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory, settings: Settings
) -> None:
    user = await users()
    await request_reset(client, user.email)
    token = mailbox.last_to(user.email).link_token("reset-password")

    with time_machine.travel(later(minutes=settings.password_reset_expire_minutes - 1), tick=True):
        assert (await confirm_reset(client, token, NEW_PASSWORD)).status_code == 204


async def test_password_reset_token_expires(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory, settings: Settings
) -> None:
    user = await users()
    await request_reset(client, user.email)
    token = mailbox.last_to(user.email).link_token("reset-password")

    with time_machine.travel(later(minutes=settings.password_reset_expire_minutes + 1), tick=True):
        assert_error(await confirm_reset(client, token, NEW_PASSWORD), 400, "invalid_token")

    assert (await login(client, user.email)).status_code == 200


async def test_password_reset_token_is_stored_only_as_its_sha256(
    client: AsyncClient,
    mailbox: Mailbox,
    users: UserFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    user = await users()
    await request_reset(client, user.email)
    token = mailbox.last_to(user.email).link_token("reset-password")

    async with sessionmaker() as session:
        stored = (
            await session.scalars(
                select(OneTimeToken).where(
                    OneTimeToken.user_id == user.id,
                    OneTimeToken.purpose == TokenPurpose.PASSWORD_RESET.value,
                )
            )
        ).all()
    assert [row.token_hash for row in stored] == [hashlib.sha256(token.encode()).hexdigest()]
    assert all(token not in str(value) for row in stored for value in vars(row).values())


async def test_password_reset_with_a_garbage_token_is_400(client: AsyncClient) -> None:
    assert_error(await confirm_reset(client, "no-such-token", NEW_PASSWORD), 400, "invalid_token")


async def test_password_reset_confirm_applies_the_password_policy(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    user = await users()
    await request_reset(client, user.email)
    token = mailbox.last_to(user.email).link_token("reset-password")

    body = assert_error(await confirm_reset(client, token, "onlyletters"), 422, "validation_error")

    assert ["body", "new_password"] in [item["loc"] for item in body["detail"]]
    assert (await confirm_reset(client, token, NEW_PASSWORD)).status_code == 204


@pytest.mark.settings(lockout_threshold=3)
async def test_password_reset_clears_a_lockout(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    user = await users()
    await fail_logins(client, user.email, 3)
    assert_error(await login(client, user.email), 401, "account_locked")
    await request_reset(client, user.email)
    token = mailbox.last_to(user.email).link_token("reset-password")

    assert (await confirm_reset(client, token, NEW_PASSWORD)).status_code == 204

    assert (await login(client, user.email, NEW_PASSWORD)).status_code == 200


async def test_password_reset_revokes_every_refresh_token(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    user = await users()
    refresh_token = (await login_ok(client, user.email))["refresh_token"]
    await request_reset(client, user.email)
    token = mailbox.last_to(user.email).link_token("reset-password")

    assert (await confirm_reset(client, token, NEW_PASSWORD)).status_code == 204

    assert_error(await refresh(client, refresh_token), 401, "invalid_token")


async def test_a_second_password_reset_request_invalidates_the_first_token(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    user = await users()
    await request_reset(client, user.email)
    await request_reset(client, user.email)
    first, second = (m.link_token("reset-password") for m in mailbox.to(user.email))
    assert first != second

    assert_error(await confirm_reset(client, first, NEW_PASSWORD), 400, "invalid_token")
    assert (await confirm_reset(client, second, NEW_PASSWORD)).status_code == 204


async def test_a_verification_token_cannot_reset_the_password(
    client: AsyncClient, mailbox: Mailbox
) -> None:
    email = unique_email("cross")
    assert (await register(client, email)).status_code == 201
    token = mailbox.last_to(email).link_token("verify-email")

    assert_error(await confirm_reset(client, token, NEW_PASSWORD), 400, "invalid_token")

    assert (await login(client, email)).status_code == 200


# --- exact expiry moments, lockout counting, deactivated accounts --------------------------


async def test_password_reset_token_stops_working_at_the_exact_moment_it_expires(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory, sessionmaker: Sessions
) -> None:
    user = await users()
    await request_reset(client, user.email)
    token = mailbox.last_to(user.email).link_token("reset-password")
    async with sessionmaker() as session:
        expires_at = await session.scalar(
            select(OneTimeToken.expires_at).where(
                OneTimeToken.token_hash == security.hash_token(token)
            )
        )
    assert expires_at is not None

    with time_machine.travel(expires_at, tick=False):
        assert_error(await confirm_reset(client, token, NEW_PASSWORD), 400, "invalid_token")


async def test_password_reset_token_of_an_account_deactivated_since_is_400(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory, sessionmaker: Sessions
) -> None:
    user = await users()
    await request_reset(client, user.email)
    token = mailbox.last_to(user.email).link_token("reset-password")
    await deactivate_in_database(sessionmaker, user.id)

    assert_error(await confirm_reset(client, token, NEW_PASSWORD), 400, "invalid_token")

    async with sessionmaker() as session:
        stored = await session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored is not None
    assert security.password_hash.verify(DEFAULT_PASSWORD, stored)


async def test_another_users_password_reset_request_leaves_a_token_working(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    user, other = await users(), await users()
    await request_reset(client, user.email)
    token = mailbox.last_to(user.email).link_token("reset-password")

    await request_reset(client, other.email)

    assert (await confirm_reset(client, token, NEW_PASSWORD)).status_code == 204


async def test_a_password_reset_request_leaves_the_verification_link_working(
    client: AsyncClient, mailbox: Mailbox
) -> None:
    email = unique_email("both")
    assert (await register(client, email)).status_code == 201
    token = mailbox.last_to(email).link_token("verify-email")

    await request_reset(client, email)

    assert (await verify(client, token)).status_code == 204
