"""Auth services against the real PostgreSQL: races on single-use tokens, and token storage."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.auth.service import logins, passwords, verification
from taskflow.config import Settings
from taskflow.core.errors import AppError
from taskflow.core.security import PasswordHasher
from taskflow.users.models import RefreshToken, User
from taskflow.users.one_time_tokens import InvalidOneTimeToken
from tests.factories import DEFAULT_PASSWORD, UserFactory, unique_email
from tests.support.mailbox import Mailbox

AUTH = "/api/v1/auth"
NEW_PASSWORD = "brand-new-pass-42"
T = TypeVar("T")


async def login_tokens(client: AsyncClient, email: str) -> dict[str, Any]:
    response = await client.post(
        f"{AUTH}/login", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def reset_token(client: AsyncClient, mailbox: Mailbox, email: str) -> str:
    response = await client.post(f"{AUTH}/password-reset", json={"email": email})
    assert response.status_code == 202, response.text
    return mailbox.last_to(email).link_token("reset-password")


async def race_behind_a_row_lock(
    sessionmaker: async_sessionmaker[AsyncSession],
    winner: AsyncSession,
    loser: Awaitable[T],
) -> asyncio.Task[T]:
    """Start `loser` while `winner` holds its uncommitted change, wait until it is blocked
    on that row lock (or done), then commit the winner and hand back the loser's task.

    This forces the worst interleaving: the loser reads the token before the winner's write
    is visible, so a check-then-act implementation would let both through.
    """
    task: asyncio.Task[T] = asyncio.ensure_future(loser)
    async with sessionmaker() as observer, asyncio.timeout(10):
        while not task.done():
            waiting = await observer.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            await observer.rollback()  # a fresh snapshot of pg_stat_activity next time
            if waiting:
                break
    await winner.commit()
    return task


# --- refresh token rotation ---------------------------------------------------------------


async def test_concurrent_refreshes_with_one_token_let_exactly_one_through(
    client: AsyncClient, users: UserFactory
) -> None:
    user = await users()
    refresh_token = (await login_tokens(client, user.email))["refresh_token"]

    responses = await asyncio.gather(
        *(client.post(f"{AUTH}/refresh", json={"refresh_token": refresh_token}) for _ in range(2))
    )

    assert sorted(response.status_code for response in responses) == [200, 401]


@pytest.mark.postgres
async def test_a_refresh_racing_an_uncommitted_rotation_is_refused(
    users: UserFactory,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    user = await users()
    async with sessionmaker() as session:
        pair = await logins.issue_tokens(session=session, settings=settings, user=user)
        await session.commit()

    async with sessionmaker() as first, sessionmaker() as second:
        rotated = await logins.rotate_refresh_token(
            session=first, settings=settings, refresh_token=pair.refresh_token
        )
        racing = await race_behind_a_row_lock(
            sessionmaker,
            first,
            logins.rotate_refresh_token(
                session=second, settings=settings, refresh_token=pair.refresh_token
            ),
        )
        with pytest.raises(AppError) as refused:
            await racing
        await second.rollback()

    assert refused.value.status_code == 401
    assert rotated.refresh_token != pair.refresh_token
    async with sessionmaker() as session:
        tokens = (
            await session.scalars(select(RefreshToken).where(RefreshToken.user_id == user.id))
        ).all()
    # The original (spent once) and the one new token: the loser minted nothing.
    assert len(tokens) == 2


# --- password reset -----------------------------------------------------------------------


async def test_concurrent_password_resets_with_one_token_let_exactly_one_through(
    client: AsyncClient, mailbox: Mailbox, users: UserFactory
) -> None:
    user = await users()
    token = await reset_token(client, mailbox, user.email)

    responses = await asyncio.gather(
        *(
            client.post(
                f"{AUTH}/password-reset/confirm",
                json={"token": token, "new_password": password},
            )
            for password in ("first-new-pass-1", "second-new-pass-2")
        )
    )

    assert sorted(response.status_code for response in responses) == [204, 400]
    winner = "first-new-pass-1" if responses[0].status_code == 204 else "second-new-pass-2"
    login = await client.post(f"{AUTH}/login", json={"email": user.email, "password": winner})
    assert login.status_code == 200, login.text


@pytest.mark.postgres
async def test_a_reset_racing_an_uncommitted_reset_with_the_same_token_is_refused(
    app: FastAPI,
    client: AsyncClient,
    mailbox: Mailbox,
    users: UserFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    user = await users()
    token = await reset_token(client, mailbox, user.email)
    hasher: PasswordHasher = app.state.hasher

    async with sessionmaker() as first, sessionmaker() as second:
        await passwords.confirm_password_reset(
            session=first, hasher=hasher, token=token, new_password=NEW_PASSWORD
        )
        racing = await race_behind_a_row_lock(
            sessionmaker,
            first,
            passwords.confirm_password_reset(
                session=second, hasher=hasher, token=token, new_password="loser-pass-99"
            ),
        )
        with pytest.raises(InvalidOneTimeToken):
            await racing
        await second.rollback()

    accepted = await client.post(
        f"{AUTH}/login", json={"email": user.email, "password": NEW_PASSWORD}
    )
    assert accepted.status_code == 200, accepted.text


# --- email verification -----------------------------------------------------------------


async def test_a_verification_token_verifies_only_the_address_it_was_sent_to(
    client: AsyncClient,
    mailbox: Mailbox,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    old_email, new_email = unique_email("sent-to"), unique_email("changed-to")
    registered = await client.post(
        f"{AUTH}/register",
        json={"email": old_email, "password": DEFAULT_PASSWORD, "full_name": "Mover"},
    )
    assert registered.status_code == 201, registered.text
    user_id = registered.json()["id"]
    token = mailbox.last_to(old_email).link_token("verify-email")
    # The address changes behind the token's back (no new verification is issued here).
    async with sessionmaker() as session:
        await session.execute(update(User).where(User.id == user_id).values(email=new_email))
        await session.commit()

    async with sessionmaker() as session:
        with pytest.raises(InvalidOneTimeToken):
            await verification.verify_email(session=session, token=token)
        await session.rollback()

    async with sessionmaker() as session:
        assert await session.scalar(select(User.is_verified).where(User.id == user_id)) is False


# --- storage ------------------------------------------------------------------------------


async def test_refresh_tokens_are_stored_only_as_sha256(
    client: AsyncClient, users: UserFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await users()
    first = (await login_tokens(client, user.email))["refresh_token"]
    rotated = await client.post(f"{AUTH}/refresh", json={"refresh_token": first})
    second = rotated.json()["refresh_token"]

    async with sessionmaker() as session:
        rows = (
            (
                await session.execute(
                    text("SELECT * FROM refresh_tokens WHERE user_id = :user_id ORDER BY id"),
                    {"user_id": user.id},
                )
            )
            .mappings()
            .all()
        )

    expected = [hashlib.sha256(token.encode()).hexdigest() for token in (first, second)]
    assert [row["token_hash"] for row in rows] == expected
    stored = " ".join(str(value) for row in rows for value in row.values())
    assert first not in stored
    assert second not in stored
