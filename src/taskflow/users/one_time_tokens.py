"""Emailed single-use tokens of an account (email verification, password reset), kept only
as hashes. Issuing one of a purpose makes the earlier unused ones of that purpose stop
working; spending one checks its purpose and its expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.core import clock, security
from taskflow.core.errors import BadRequest
from taskflow.users.models import OneTimeToken, TokenPurpose, User


class InvalidOneTimeToken(BadRequest):
    error = "invalid_token"
    detail = "Invalid, used or expired token"


@dataclass(frozen=True, slots=True)
class ConsumedToken:
    """Whose token was spent, and the address it was sent to."""

    user_id: int
    email: str | None


async def issue_one_time_token(
    session: AsyncSession, *, user: User, purpose: TokenPurpose, lifetime: timedelta
) -> str:
    """A new token for an email to `user`; earlier unused ones of the same purpose stop
    working."""
    await session.execute(
        delete(OneTimeToken).where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == purpose.value,
            OneTimeToken.used_at.is_(None),
        )
    )
    token = security.new_opaque_token()
    session.add(
        OneTimeToken(
            user_id=user.id,
            purpose=purpose.value,
            token_hash=security.hash_token(token),
            email=user.email,
            expires_at=clock.now() + lifetime,
        )
    )
    await session.flush()
    return token


async def consume_one_time_token(
    session: AsyncSession, *, token: str, purpose: TokenPurpose
) -> ConsumedToken:
    """Spend a valid token of this purpose, or InvalidOneTimeToken."""
    now = clock.now()
    row = (
        await session.execute(
            update(OneTimeToken)
            .where(
                OneTimeToken.token_hash == security.hash_token(token),
                OneTimeToken.purpose == purpose.value,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(OneTimeToken.user_id, OneTimeToken.email)
        )
    ).first()
    if row is None:
        raise InvalidOneTimeToken()
    return ConsumedToken(user_id=row.user_id, email=row.email)
