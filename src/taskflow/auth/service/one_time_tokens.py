"""Emailed single-use tokens (password reset, email verification), kept only as hashes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.auth import emails
from taskflow.auth.models import OneTimeToken, TokenPurpose
from taskflow.config import Settings
from taskflow.core import clock, security
from taskflow.core.email import Mailer
from taskflow.core.errors import BadRequest
from taskflow.users.models import User


class InvalidOneTimeToken(BadRequest):
    error = "invalid_token"
    detail = "Invalid, used or expired token"


@dataclass(frozen=True, slots=True)
class ConsumedToken:
    """Whose token was spent, and the address it was sent to."""

    user_id: int
    email: str | None


def _token_lifetime(settings: Settings, purpose: TokenPurpose) -> timedelta:
    if purpose is TokenPurpose.PASSWORD_RESET:
        return timedelta(minutes=settings.password_reset_expire_minutes)
    return timedelta(hours=settings.email_verification_expire_hours)


_COMPOSERS = {
    TokenPurpose.PASSWORD_RESET: emails.password_reset_email,
    TokenPurpose.EMAIL_VERIFICATION: emails.verification_email,
}


async def email_one_time_token(
    session: AsyncSession, settings: Settings, mailer: Mailer, user: User, purpose: TokenPurpose
) -> None:
    """Issue a token of this purpose and queue the email that carries its link."""
    token = await _issue_one_time_token(
        session, user=user, purpose=purpose, lifetime=_token_lifetime(settings, purpose)
    )
    compose = _COMPOSERS[purpose]
    mailer.queue(compose(settings=settings, to=user.email, full_name=user.full_name, token=token))


async def _issue_one_time_token(
    session: AsyncSession, *, user: User, purpose: TokenPurpose, lifetime: timedelta
) -> str:
    """A new emailed token; earlier unused ones of the same purpose stop working."""
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
