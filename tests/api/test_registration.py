"""Registering an account and verifying its email, through /api/v1/auth."""

from __future__ import annotations

import pytest
import time_machine
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.config import Settings
from taskflow.users.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory, unique_email
from tests.support.api import (
    AUTH,
    ME,
    USER_FIELDS,
    Sessions,
    assert_error,
    bearer,
    deactivate_in_database,
    later,
    login,
    login_ok,
    me,
    register,
    request_reset,
    verify,
)
from tests.support.mailbox import Mailbox

# --- register -----------------------------------------------------------------------------


async def test_register_returns_the_user_without_password_or_hash(client: AsyncClient) -> None:
    email = unique_email("reg")
    response = await register(client, email)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["email"] == email
    assert body["full_name"] == "Reg Istered"
    assert body["role"] == "user"
    assert body["is_active"] is True
    assert body["is_verified"] is False
    assert DEFAULT_PASSWORD not in response.text
    assert "argon2" not in response.text
    assert "hash" not in response.text


async def test_register_lower_cases_the_email(client: AsyncClient) -> None:
    email = unique_email("mixed")
    response = await register(client, email.upper())

    assert response.status_code == 201, response.text
    assert response.json()["email"] == email
    assert (await login(client, email)).status_code == 200


async def test_register_then_login_works(client: AsyncClient) -> None:
    email = unique_email("reg")
    assert (await register(client, email)).status_code == 201

    tokens = await login_ok(client, email)

    profile = await me(client, bearer(tokens["access_token"]))
    assert profile.status_code == 200
    assert profile.json()["email"] == email


async def test_register_with_taken_email_is_409(client: AsyncClient, users: UserFactory) -> None:
    user = await users()

    body = assert_error(await register(client, user.email), 409, "email_taken")

    assert isinstance(body["detail"], str)


async def test_register_with_taken_email_in_other_case_is_409(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()

    assert_error(await register(client, user.email.upper()), 409, "email_taken")

    async with sessionmaker() as session:
        matching = await session.scalars(select(User).where(User.email.ilike(user.email)))
        assert len(matching.all()) == 1


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        pytest.param("not-an-email", DEFAULT_PASSWORD, "email", id="invalid-email"),
        pytest.param("missing-domain@", DEFAULT_PASSWORD, "email", id="email-without-domain"),
        pytest.param(None, "short1a", "password", id="password-shorter-than-8"),
        pytest.param(None, "a1" * 64 + "b", "password", id="password-longer-than-128"),
        pytest.param(None, "12345678901", "password", id="password-without-letter"),
        pytest.param(None, "abcdefghijk", "password", id="password-without-digit"),
    ],
)
async def test_register_rejects_invalid_input_with_422_naming_the_field(
    client: AsyncClient, mailbox: Mailbox, email: str | None, password: str, field: str
) -> None:
    response = await register(client, email or unique_email("bad"), password)

    body = assert_error(response, 422, "validation_error")
    locations = [item["loc"] for item in body["detail"]]
    assert ["body", field] in locations, locations
    assert all(item["loc"][-1] == field for item in body["detail"]), locations
    assert password not in response.text  # 422 bodies never echo the input
    assert mailbox.messages == []


async def test_register_accepts_password_at_the_length_limits(client: AsyncClient) -> None:
    shortest = await register(client, unique_email("min"), "abcdef12")
    longest = await register(client, unique_email("max"), "a1" * 64)

    assert shortest.status_code == 201, shortest.text
    assert longest.status_code == 201, longest.text


async def test_register_rejects_unknown_fields(
    client: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    email = unique_email("mass")
    response = await register(client, email, role="admin", is_verified=True)

    body = assert_error(response, 422, "validation_error")
    extra = {tuple(item["loc"]) for item in body["detail"] if item["type"] == "extra_forbidden"}
    assert extra == {("body", "role"), ("body", "is_verified")}
    async with sessionmaker() as session:
        assert await session.scalar(select(User).where(User.email == email)) is None


async def test_register_sends_a_verification_link_over_smtp(
    client: AsyncClient, mailbox: Mailbox, settings: Settings
) -> None:
    email = unique_email("mail")
    assert (await register(client, email)).status_code == 201

    message = mailbox.last_to(email)
    token = message.link_token("verify-email")
    assert f"{settings.frontend_base}/verify-email?token={token}" in message.body
    assert len(mailbox.to(email)) == 1


# --- email verification -------------------------------------------------------------------


async def test_verify_email_marks_the_user_verified(client: AsyncClient, mailbox: Mailbox) -> None:
    email = unique_email("verify")
    assert (await register(client, email)).status_code == 201
    token = mailbox.last_to(email).link_token("verify-email")
    headers = bearer((await login_ok(client, email))["access_token"])
    assert (await me(client, headers)).json()["is_verified"] is False

    response = await verify(client, token)

    assert response.status_code == 204, response.text
    assert (await me(client, headers)).json()["is_verified"] is True


async def test_verify_email_with_a_bad_token_is_400(client: AsyncClient) -> None:
    assert_error(await verify(client, "definitely-not-a-token"), 400, "invalid_token")


async def test_verify_email_token_works_only_once(client: AsyncClient, mailbox: Mailbox) -> None:
    email = unique_email("twice")
    assert (await register(client, email)).status_code == 201
    token = mailbox.last_to(email).link_token("verify-email")
    assert (await verify(client, token)).status_code == 204

    assert_error(await verify(client, token), 400, "invalid_token")


async def test_verify_email_token_expires(
    client: AsyncClient, mailbox: Mailbox, settings: Settings
) -> None:
    email = unique_email("late")
    assert (await register(client, email)).status_code == 201
    token = mailbox.last_to(email).link_token("verify-email")

    with time_machine.travel(later(hours=settings.email_verification_expire_hours + 1), tick=True):
        assert_error(await verify(client, token), 400, "invalid_token")


async def test_a_password_reset_token_cannot_verify_an_email(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    user = await users(is_verified=False)
    await request_reset(client, user.email)
    token = mailbox.last_to(user.email).link_token("reset-password")

    assert_error(await verify(client, token), 400, "invalid_token")

    assert (await me(client, users.headers(user))).json()["is_verified"] is False


async def test_verification_sent_before_an_email_change_does_not_verify_the_new_address(
    client: AsyncClient, mailbox: Mailbox
) -> None:
    old_email, new_email = unique_email("old"), unique_email("new")
    assert (await register(client, old_email)).status_code == 201
    old_token = mailbox.last_to(old_email).link_token("verify-email")
    headers = bearer((await login_ok(client, old_email))["access_token"])
    changed = await client.patch(ME, json={"email": new_email}, headers=headers)
    assert changed.status_code == 200, changed.text

    assert_error(await verify(client, old_token), 400, "invalid_token")
    profile = (await me(client, headers)).json()
    assert profile["email"] == new_email
    assert profile["is_verified"] is False

    new_token = mailbox.last_to(new_email).link_token("verify-email")
    assert (await verify(client, new_token)).status_code == 204
    assert (await me(client, headers)).json()["is_verified"] is True


async def test_resend_verification_sends_a_new_working_link(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    user = await users(is_verified=False)

    response = await client.post(f"{AUTH}/verify-email/resend", headers=users.headers(user))

    assert response.status_code == 204, response.text
    token = mailbox.last_to(user.email).link_token("verify-email")
    assert (await verify(client, token)).status_code == 204
    assert (await me(client, users.headers(user))).json()["is_verified"] is True


async def test_resend_verification_replaces_the_earlier_link(
    client: AsyncClient, mailbox: Mailbox
) -> None:
    email = unique_email("resend")
    assert (await register(client, email)).status_code == 201
    headers = bearer((await login_ok(client, email))["access_token"])

    assert (await client.post(f"{AUTH}/verify-email/resend", headers=headers)).status_code == 204

    first, second = (m.link_token("verify-email") for m in mailbox.to(email))
    assert first != second
    assert_error(await verify(client, first), 400, "invalid_token")
    assert (await verify(client, second)).status_code == 204


async def test_resend_verification_when_already_verified_is_409(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    user = await users(is_verified=True)

    response = await client.post(f"{AUTH}/verify-email/resend", headers=users.headers(user))

    assert_error(response, 409, "already_verified")
    assert mailbox.messages == []


async def test_resend_verification_unauthenticated_is_401(
    client: AsyncClient, mailbox: Mailbox
) -> None:
    response = await client.post(f"{AUTH}/verify-email/resend")

    assert_error(response, 401, "not_authenticated")
    assert mailbox.messages == []


# --- exact expiry moments, lockout counting, deactivated accounts --------------------------


async def test_verification_token_of_an_account_deactivated_since_is_400(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory, sessionmaker: Sessions
) -> None:
    email = unique_email("gone")
    created = await register(client, email)
    assert created.status_code == 201, created.text
    token = mailbox.last_to(email).link_token("verify-email")
    await deactivate_in_database(sessionmaker, created.json()["id"])

    assert_error(await verify(client, token), 400, "invalid_token")

    async with sessionmaker() as session:
        verified = await session.scalar(select(User.is_verified).where(User.email == email))
    assert verified is False


async def test_emails_greet_the_user_by_name(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    email = unique_email("greeted")
    assert (await register(client, email)).status_code == 201
    user = await users(full_name="Ada Lovelace")
    await request_reset(client, user.email)

    assert mailbox.last_to(email).body.startswith("Hello Reg Istered,")
    assert mailbox.last_to(user.email).body.startswith("Hello Ada Lovelace,")
