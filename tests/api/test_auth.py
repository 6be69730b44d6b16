"""The /api/v1/auth routes through HTTP, against the real database and a loopback SMTP server."""

from __future__ import annotations

import hashlib
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import time_machine
from httpx import AsyncClient, Response
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.config import Settings
from taskflow.core import security
from taskflow.users.models import OneTimeToken, RefreshToken, TokenPurpose, User
from tests.factories import DEFAULT_PASSWORD, UserFactory, unique_email
from tests.support.mailbox import Mailbox

AUTH = "/api/v1/auth"
ME = "/api/v1/users/me"
NEW_PASSWORD = "brand-new-pass-42"
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


# --- helpers ------------------------------------------------------------------------------


def assert_error(response: Response, status_code: int, error: str) -> dict[str, Any]:
    assert response.status_code == status_code, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    assert "request_id" in body
    if status_code == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    return body


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def later(**delta: float) -> datetime:
    """A moment in the future, as a destination for time_machine.travel."""
    return datetime.now(UTC) + timedelta(**delta)


async def login(client: AsyncClient, email: str, password: str = DEFAULT_PASSWORD) -> Response:
    return await client.post(f"{AUTH}/login", json={"email": email, "password": password})


async def login_ok(
    client: AsyncClient, email: str, password: str = DEFAULT_PASSWORD
) -> dict[str, Any]:
    response = await login(client, email, password)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(client: AsyncClient, refresh_token: str) -> Response:
    return await client.post(f"{AUTH}/refresh", json={"refresh_token": refresh_token})


async def register(
    client: AsyncClient, email: str, password: str = DEFAULT_PASSWORD, **extra: Any
) -> Response:
    return await client.post(
        f"{AUTH}/register",
        json={"email": email, "password": password, "full_name": "Reg Istered", **extra},
    )


RESET_ACCEPTED = "If an active account has this email, a reset link was sent to it."


async def request_reset(client: AsyncClient, email: str) -> Response:
    return await client.post(f"{AUTH}/password-reset", json={"email": email})


async def confirm_reset(client: AsyncClient, token: str, new_password: str) -> Response:
    return await client.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "new_password": new_password}
    )


async def verify(client: AsyncClient, token: str) -> Response:
    return await client.post(f"{AUTH}/verify-email", json={"token": token})


async def me(client: AsyncClient, headers: dict[str, str]) -> Response:
    return await client.get(ME, headers=headers)


async def fail_logins(client: AsyncClient, email: str, count: int) -> None:
    for _ in range(count):
        assert_error(await login(client, email, "wrong-password-1"), 401, "invalid_credentials")


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


# --- login --------------------------------------------------------------------------------


async def test_login_returns_a_bearer_token_pair(
    client: AsyncClient, users: UserFactory, settings: Settings
) -> None:
    user = await users()

    tokens = await login_ok(client, user.email)

    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == settings.access_token_expire_minutes * 60
    assert tokens["refresh_token"] and tokens["refresh_token"] != tokens["access_token"]
    profile = await me(client, bearer(tokens["access_token"]))
    assert profile.status_code == 200
    assert profile.json()["id"] == user.id


async def test_login_email_is_case_insensitive(client: AsyncClient, users: UserFactory) -> None:
    user = await users()

    assert (await login(client, user.email.upper())).status_code == 200


async def test_login_with_wrong_password_is_401_invalid_credentials(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()

    body = assert_error(
        await login(client, user.email, "wrong-password-1"), 401, "invalid_credentials"
    )

    assert body["detail"] == "Invalid credentials"


async def test_login_with_unknown_email_is_401_invalid_credentials(client: AsyncClient) -> None:
    response = await login(client, unique_email("nobody"))

    body = assert_error(response, 401, "invalid_credentials")
    assert body["detail"] == "Invalid credentials"


async def test_login_of_inactive_user_is_401_even_with_right_password(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users(is_active=False)

    body = assert_error(await login(client, user.email), 401, "invalid_credentials")

    assert body["detail"] == "Invalid credentials"


@pytest.mark.settings(lockout_threshold=1000)
async def test_login_with_unknown_email_takes_about_as_long_as_wrong_password(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    unknown = unique_email("ghost")

    async def timed(email: str) -> float:
        started = time.perf_counter()
        response = await login(client, email, "wrong-password-1")
        elapsed = time.perf_counter() - started
        assert response.status_code == 401
        return elapsed

    for email in (user.email, unknown):  # warm up both paths
        await timed(email)
    wrong_password, unknown_email = [], []
    for _ in range(5):
        wrong_password.append(await timed(user.email))
        unknown_email.append(await timed(unknown))

    # Without the dummy hash an unknown email answers ~20x faster than a wrong password.
    assert statistics.median(unknown_email) >= 0.5 * statistics.median(wrong_password), (
        unknown_email,
        wrong_password,
    )


async def test_login_rejects_unknown_fields(client: AsyncClient, users: UserFactory) -> None:
    user = await users()

    response = await client.post(
        f"{AUTH}/login",
        json={"email": user.email, "password": DEFAULT_PASSWORD, "remember": True},
    )

    assert_error(response, 422, "validation_error")


async def test_token_form_login_takes_the_email_as_username(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()

    response = await client.post(
        f"{AUTH}/token", data={"username": user.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["refresh_token"]
    profile = await me(client, bearer(tokens["access_token"]))
    assert profile.json()["id"] == user.id


async def test_token_form_login_with_wrong_password_is_401(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()

    response = await client.post(
        f"{AUTH}/token", data={"username": user.email, "password": "wrong-password-1"}
    )

    assert assert_error(response, 401, "invalid_credentials")["detail"] == "Invalid credentials"


# --- refresh ------------------------------------------------------------------------------


async def test_refresh_returns_a_new_working_pair(client: AsyncClient, users: UserFactory) -> None:
    user = await users()
    first = await login_ok(client, user.email)

    response = await refresh(client, first["refresh_token"])

    assert response.status_code == 200, response.text
    second = response.json()
    assert second["token_type"] == "bearer"
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await me(client, bearer(second["access_token"]))).json()["id"] == user.id
    assert (await refresh(client, second["refresh_token"])).status_code == 200


async def test_refresh_token_reuse_is_401_and_revokes_the_whole_family(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    first = (await login_ok(client, user.email))["refresh_token"]
    second = (await refresh(client, first)).json()["refresh_token"]
    newest = (await refresh(client, second)).json()["refresh_token"]

    body = assert_error(await refresh(client, first), 401, "token_reuse_detected")

    assert "reuse" in body["detail"].lower()
    assert_error(await refresh(client, newest), 401, "invalid_token")


async def test_refresh_token_reuse_leaves_other_logins_working(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    other_login = (await login_ok(client, user.email))["refresh_token"]
    spent = (await login_ok(client, user.email))["refresh_token"]
    assert (await refresh(client, spent)).status_code == 200

    assert_error(await refresh(client, spent), 401, "token_reuse_detected")

    assert (await refresh(client, other_login)).status_code == 200


async def test_refresh_with_garbage_token_is_401(client: AsyncClient) -> None:
    body = assert_error(await refresh(client, "not-a-real-token"), 401, "invalid_token")

    assert isinstance(body["detail"], str)


async def test_refresh_with_access_token_is_401(client: AsyncClient, users: UserFactory) -> None:
    user = await users()
    tokens = await login_ok(client, user.email)

    assert_error(await refresh(client, tokens["access_token"]), 401, "invalid_token")


async def test_refresh_token_works_until_it_expires(
    client: AsyncClient, users: UserFactory, settings: Settings
) -> None:
    user = await users()
    kept = (await login_ok(client, user.email))["refresh_token"]
    expiring = (await login_ok(client, user.email))["refresh_token"]
    days = settings.refresh_token_expire_days

    with time_machine.travel(later(days=days, hours=-1), tick=True):
        assert (await refresh(client, kept)).status_code == 200
    with time_machine.travel(later(days=days, minutes=1), tick=True):
        assert_error(await refresh(client, expiring), 401, "invalid_token")


# --- logout -------------------------------------------------------------------------------


async def test_logout_is_204_and_the_refresh_token_stops_working(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    tokens = await login_ok(client, user.email)

    response = await client.post(f"{AUTH}/logout", json={"refresh_token": tokens["refresh_token"]})

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_error(await refresh(client, tokens["refresh_token"]), 401, "invalid_token")


async def test_logout_ends_the_rotated_tokens_of_that_login(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    first = (await login_ok(client, user.email))["refresh_token"]
    current = (await refresh(client, first)).json()["refresh_token"]

    response = await client.post(f"{AUTH}/logout", json={"refresh_token": current})

    assert response.status_code == 204
    assert (await refresh(client, current)).status_code == 401


# --- change password ----------------------------------------------------------------------


async def change_password(
    client: AsyncClient, headers: dict[str, str], current: str, new: str
) -> Response:
    return await client.post(
        f"{AUTH}/change-password",
        json={"current_password": current, "new_password": new},
        headers=headers,
    )


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


# --- lockout ------------------------------------------------------------------------------


@pytest.mark.settings(lockout_threshold=3)
async def test_lockout_after_threshold_failures_even_with_right_password(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    await fail_logins(client, user.email, 3)

    body = assert_error(await login(client, user.email), 401, "account_locked")

    assert "locked" in body["detail"].lower()


@pytest.mark.settings(lockout_threshold=3)
async def test_failures_below_the_threshold_do_not_lock(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    await fail_logins(client, user.email, 2)

    assert (await login(client, user.email)).status_code == 200


@pytest.mark.settings(lockout_threshold=3, lockout_minutes=15)
async def test_lockout_ends_after_lockout_minutes(client: AsyncClient, users: UserFactory) -> None:
    user = await users()
    await fail_logins(client, user.email, 3)

    with time_machine.travel(later(minutes=14), tick=True):
        assert_error(await login(client, user.email), 401, "account_locked")
    with time_machine.travel(later(minutes=15, seconds=30), tick=True):
        assert (await login(client, user.email)).status_code == 200


@pytest.mark.settings(lockout_threshold=3)
async def test_successful_login_resets_the_failure_count(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    await fail_logins(client, user.email, 2)
    assert (await login(client, user.email)).status_code == 200
    await fail_logins(client, user.email, 2)

    assert (await login(client, user.email)).status_code == 200


@pytest.mark.settings(lockout_threshold=3)
async def test_lockout_of_one_user_does_not_lock_another(
    client: AsyncClient, users: UserFactory
) -> None:
    locked, other = await users(), await users()
    await fail_logins(client, locked.email, 3)

    assert_error(await login(client, locked.email), 401, "account_locked")
    assert (await login(client, other.email)).status_code == 200


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


# --- access tokens ------------------------------------------------------------------------


async def test_access_token_works_until_it_expires(
    client: AsyncClient, users: UserFactory, settings: Settings
) -> None:
    user = await users()
    headers = bearer((await login_ok(client, user.email))["access_token"])
    minutes = settings.access_token_expire_minutes

    with time_machine.travel(later(minutes=minutes - 1), tick=True):
        assert (await me(client, headers)).status_code == 200
    with time_machine.travel(later(minutes=minutes, seconds=30), tick=True):
        assert_error(await me(client, headers), 401, "invalid_token")


def access_claims(user_id: int, settings: Settings, **changes: Any) -> dict[str, Any]:
    """The claims login puts in an access token; a change of None drops the claim."""
    issued = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "iat": issued,
        "exp": issued + timedelta(minutes=5),
        "jti": uuid.uuid4().hex,
        "type": "access",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    return claims


async def test_a_token_forged_with_the_right_key_and_claims_is_accepted(
    client: AsyncClient, users: UserFactory, settings: Settings
) -> None:
    """The control for the forgery tests below: their tokens differ from this one in one way."""
    user = await users()
    token = jwt.encode(access_claims(user.id, settings), settings.jwt_secret, algorithm="HS256")

    response = await me(client, bearer(token))

    assert response.status_code == 200, response.text
    assert response.json()["id"] == user.id


async def test_a_token_signed_with_another_key_is_401(
    client: AsyncClient, users: UserFactory, settings: Settings
) -> None:
    user = await users()
    other_key = "another-secret-key-that-is-long-enough-for-hs256-987654"
    token = jwt.encode(access_claims(user.id, settings), other_key, algorithm="HS256")

    assert_error(await me(client, bearer(token)), 401, "invalid_token")


async def test_a_token_with_alg_none_is_401(
    client: AsyncClient, users: UserFactory, settings: Settings
) -> None:
    user = await users()
    token = jwt.encode(access_claims(user.id, settings), None, algorithm="none")
    assert jwt.get_unverified_header(token)["alg"] == "none"

    assert_error(await me(client, bearer(token)), 401, "invalid_token")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_a_token_signed_with_another_hmac_algorithm_is_401(
    client: AsyncClient, users: UserFactory, settings: Settings
) -> None:
    user = await users()
    token = jwt.encode(access_claims(user.id, settings), settings.jwt_secret, algorithm="HS512")

    assert_error(await me(client, bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize("claim", ["sub", "exp", "iat", "jti", "type", "iss", "aud"])
async def test_a_token_missing_a_required_claim_is_401(
    client: AsyncClient, users: UserFactory, settings: Settings, claim: str
) -> None:
    user = await users()
    claims = access_claims(user.id, settings, **{claim: None})
    token = jwt.encode(claims, settings.jwt_secret, algorithm="HS256")

    assert_error(await me(client, bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"iss": "someone-else"}, id="wrong-issuer"),
        pytest.param({"aud": "another-api"}, id="wrong-audience"),
        pytest.param({"type": "refresh"}, id="wrong-type"),
        pytest.param({"sub": "not-a-number"}, id="non-numeric-subject"),
        pytest.param({"sub": "999999999"}, id="unknown-user"),
    ],
)
async def test_a_token_with_a_wrong_claim_is_401(
    client: AsyncClient, users: UserFactory, settings: Settings, changes: dict[str, str]
) -> None:
    user = await users()
    token = jwt.encode(access_claims(user.id, settings, **changes), settings.jwt_secret)

    assert_error(await me(client, bearer(token)), 401, "invalid_token")


async def test_a_garbage_bearer_token_is_401(client: AsyncClient) -> None:
    assert_error(await me(client, bearer("not.a.jwt")), 401, "invalid_token")


async def test_a_missing_token_is_401(client: AsyncClient) -> None:
    assert_error(await me(client, {}), 401, "not_authenticated")


# --- exact expiry moments, lockout counting, deactivated accounts --------------------------

Sessions = async_sessionmaker[AsyncSession]


async def deactivate_in_database(sessionmaker: Sessions, user_id: int) -> None:
    """Deactivate without the API, so nothing else (such as revoking sessions) happens."""
    async with sessionmaker() as session:
        await session.execute(update(User).where(User.id == user_id).values(is_active=False))
        await session.commit()


async def test_refresh_token_stops_working_at_the_exact_moment_it_expires(
    client: AsyncClient, users: UserFactory, sessionmaker: Sessions
) -> None:
    user = await users()
    refresh_token = (await login_ok(client, user.email))["refresh_token"]
    async with sessionmaker() as session:
        expires_at = await session.scalar(
            select(RefreshToken.expires_at).where(
                RefreshToken.token_hash == security.hash_token(refresh_token)
            )
        )
    assert expires_at is not None

    with time_machine.travel(expires_at, tick=False):
        assert_error(await refresh(client, refresh_token), 401, "invalid_token")


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


@pytest.mark.settings(lockout_threshold=3)
async def test_lockout_ends_at_the_exact_moment_of_locked_until(
    client: AsyncClient, users: UserFactory, sessionmaker: Sessions
) -> None:
    user = await users()
    await fail_logins(client, user.email, 3)
    async with sessionmaker() as session:
        locked_until = await session.scalar(select(User.locked_until).where(User.id == user.id))
    assert locked_until is not None

    with time_machine.travel(locked_until, tick=False):
        assert (await login(client, user.email)).status_code == 200


@pytest.mark.settings(lockout_threshold=3, lockout_minutes=15)
async def test_after_a_lockout_ends_the_failure_count_starts_again_from_zero(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    await fail_logins(client, user.email, 3)

    with time_machine.travel(later(minutes=16), tick=True):
        await fail_logins(client, user.email, 2)
        assert (await login(client, user.email)).status_code == 200


@pytest.mark.settings(lockout_threshold=3)
async def test_a_password_change_restarts_the_failure_count_from_zero(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    await fail_logins(client, user.email, 2)
    changed = await change_password(client, users.headers(user), DEFAULT_PASSWORD, NEW_PASSWORD)
    assert changed.status_code == 204, changed.text

    await fail_logins(client, user.email, 2)

    assert (await login(client, user.email, NEW_PASSWORD)).status_code == 200


async def test_login_upgrades_a_weaker_password_hash_and_keeps_working(
    client: AsyncClient, users: UserFactory, sessionmaker: Sessions
) -> None:
    user = await users()
    weak = Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1).hash(DEFAULT_PASSWORD)
    async with sessionmaker() as session:
        await session.execute(update(User).where(User.id == user.id).values(password_hash=weak))
        await session.commit()

    assert (await login(client, user.email)).status_code == 200

    async with sessionmaker() as session:
        stored = await session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored is not None
    assert stored != weak
    assert security.password_hash.verify(DEFAULT_PASSWORD, stored)
    assert (await login(client, user.email)).status_code == 200


async def test_refresh_of_an_account_deactivated_behind_the_apis_back_is_401(
    client: AsyncClient, users: UserFactory, sessionmaker: Sessions
) -> None:
    user = await users()
    refresh_token = (await login_ok(client, user.email))["refresh_token"]
    await deactivate_in_database(sessionmaker, user.id)

    assert_error(await refresh(client, refresh_token), 401, "invalid_token")


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


async def test_emails_greet_the_user_by_name(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    email = unique_email("greeted")
    assert (await register(client, email)).status_code == 201
    user = await users(full_name="Ada Lovelace")
    await request_reset(client, user.email)

    assert mailbox.last_to(email).body.startswith("Hello Reg Istered,")
    assert mailbox.last_to(user.email).body.startswith("Hello Ada Lovelace,")


@pytest.mark.settings(lockout_threshold=2)
async def test_failed_logins_and_the_lockout_leave_updated_at_as_it_was(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    headers = users.headers(user)
    before = (await me(client, headers)).json()["updated_at"]

    await fail_logins(client, user.email, 1)
    assert (await me(client, headers)).json()["updated_at"] == before
    await fail_logins(client, user.email, 1)
    assert_error(await login(client, user.email), 401, "account_locked")

    assert (await me(client, headers)).json()["updated_at"] == before
