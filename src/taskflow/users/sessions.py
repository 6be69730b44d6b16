"""A user's logins (refresh token families): ending them is an account matter, needed by
the login flows in auth and by deactivation here."""

from __future__ import annotations

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.core import clock
from taskflow.users.models import RefreshToken


async def revoke_all_sessions(*, session: AsyncSession, user_id: int) -> None:
    """End every login of this user: none of its refresh tokens can be spent again."""
    await _revoke(session, RefreshToken.user_id == user_id)


async def revoke_login(*, session: AsyncSession, family_id: str) -> None:
    """End one login: every refresh token rotated from it."""
    await _revoke(session, RefreshToken.family_id == family_id)


async def _revoke(session: AsyncSession, condition: ColumnElement[bool]) -> None:
    await session.execute(
        update(RefreshToken)
        .where(condition, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )
