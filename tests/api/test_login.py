"""Logging in, the lockout after failed logins and its end, through /api/v1/auth."""

from __future__ import annotations

import statistics
import time

import pytest
import time_machine
from httpx import AsyncClient
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select, update

from taskflow.config import Settings
from taskflow.core import security
from taskflow.users.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory, unique_email
from tests.support.api import (
    AUTH,
    NEW_PASSWORD,
    Sessions,
    assert_error,
    bearer,
    change_password,
    fail_logins,
    later,
    login,
    login_ok,
    me,
)

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


# --- exact expiry moments, lockout counting, deactivated accounts --------------------------


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
