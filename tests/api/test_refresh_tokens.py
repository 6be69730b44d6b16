"""Refreshing a login's token pair, reuse detection and logout, through /api/v1/auth."""

from __future__ import annotations

import time_machine
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.config import Settings
from taskflow.core import security
from taskflow.users.models import RefreshToken
from tests.factories import UserFactory
from tests.support.api import (
    AUTH,
    Sessions,
    assert_error,
    bearer,
    deactivate_in_database,
    later,
    login_ok,
    me,
    refresh,
)

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
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()
    other_login = (await login_ok(client, user.email))["refresh_token"]
    family = [(await login_ok(client, user.email))["refresh_token"]]
    for _ in range(2):
        family.append((await refresh(client, family[-1])).json()["refresh_token"])
    *rotated, current = family

    response = await client.post(f"{AUTH}/logout", json={"refresh_token": current})

    assert response.status_code == 204, response.text
    # Every token of the login is revoked, not only the one presented; read before any
    # /refresh, since presenting a spent token revokes its family by itself.
    async with sessionmaker() as session:
        rows = await session.execute(
            select(RefreshToken.token_hash, RefreshToken.revoked_at).where(
                RefreshToken.token_hash.in_([security.hash_token(token) for token in family])
            )
        )
        revoked = dict(rows.all())
    assert len(revoked) == len(family)
    assert all(moment is not None for moment in revoked.values()), revoked
    # Logout ends only that login: another login of the same user still refreshes.
    assert (await refresh(client, other_login)).status_code == 200
    # The current token first: a spent one presented first would revoke the family itself.
    assert_error(await refresh(client, current), 401, "invalid_token")
    for spent in rotated:
        # A spent token is answered as reuse whether or not its family was ended already.
        assert_error(await refresh(client, spent), 401, "token_reuse_detected")


# --- exact expiry moments, lockout counting, deactivated accounts --------------------------


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


async def test_refresh_of_an_account_deactivated_behind_the_apis_back_is_401(
    client: AsyncClient, users: UserFactory, sessionmaker: Sessions
) -> None:
    user = await users()
    refresh_token = (await login_ok(client, user.email))["refresh_token"]
    await deactivate_in_database(sessionmaker, user.id)

    assert_error(await refresh(client, refresh_token), 401, "invalid_token")
