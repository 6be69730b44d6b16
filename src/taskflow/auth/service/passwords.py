"""Passwords: changing one, and resetting a forgotten one through an emailed link."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.audit import service as audit
from taskflow.audit.models import AuditEvent
from taskflow.auth.models import TokenPurpose
from taskflow.auth.service.one_time_tokens import (
    InvalidOneTimeToken,
    consume_one_time_token,
    email_one_time_token,
)
from taskflow.config import Settings
from taskflow.core.cache import touch
from taskflow.core.email import Mailer
from taskflow.core.errors import BadRequest
from taskflow.core.security import PasswordHasher
from taskflow.users.models import User, normalise_email
from taskflow.users.sessions import revoke_all_sessions


class WrongCurrentPassword(BadRequest):
    error = "invalid_password"
    detail = "Current password is incorrect"


async def _set_password(
    session: AsyncSession, hasher: PasswordHasher, user: User, password: str
) -> None:
    """A new password also lifts a lockout and ends every session."""
    user.password_hash = await hasher.hash(password)
    user.failed_login_count = 0
    user.locked_until = None
    await session.flush()
    touch(session, auth=[user.id])
    await revoke_all_sessions(session=session, user_id=user.id)


async def change_password(
    *,
    session: AsyncSession,
    hasher: PasswordHasher,
    user: User,
    current_password: str,
    new_password: str,
) -> None:
    if not await hasher.verify(current_password, user.password_hash):
        raise WrongCurrentPassword()
    await _set_password(session, hasher, user, new_password)
    audit.record(session, AuditEvent.PASSWORD_CHANGED, actor_id=user.id, subject_user_id=user.id)


async def request_password_reset(
    *, session: AsyncSession, settings: Settings, mailer: Mailer, email: str
) -> None:
    """Email a reset link to an active account; say nothing about whether one exists."""
    user = await session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.is_active:
        audit.record(
            session,
            AuditEvent.PASSWORD_RESET_REQUESTED,
            actor_id=None,
            subject_user_id=user.id if user else None,
            details={"email": normalise_email(email), "sent": False},
        )
        return
    await email_one_time_token(session, settings, mailer, user, TokenPurpose.PASSWORD_RESET)
    audit.record(
        session,
        AuditEvent.PASSWORD_RESET_REQUESTED,
        actor_id=None,
        subject_user_id=user.id,
        details={"sent": True},
    )


async def confirm_password_reset(
    *, session: AsyncSession, hasher: PasswordHasher, token: str, new_password: str
) -> User:
    consumed = await consume_one_time_token(
        session, token=token, purpose=TokenPurpose.PASSWORD_RESET
    )
    user = await session.get(User, consumed.user_id)
    if user is None or not user.is_active:
        raise InvalidOneTimeToken()
    await _set_password(session, hasher, user, new_password)
    audit.record(
        session, AuditEvent.PASSWORD_RESET_COMPLETED, actor_id=user.id, subject_user_id=user.id
    )
    return user
