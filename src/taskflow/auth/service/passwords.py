"""Passwords: changing one, and resetting a forgotten one through an emailed link."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.audit import service as audit
from taskflow.audit.models import AuditEvent
from taskflow.auth.emails import password_reset_email
from taskflow.config import Settings
from taskflow.core.cache import touch
from taskflow.core.email import Mailer
from taskflow.core.errors import BadRequest
from taskflow.core.security import PasswordHasher
from taskflow.users.models import TokenPurpose, User, normalise_email
from taskflow.users.one_time_tokens import (
    InvalidOneTimeToken,
    consume_one_time_token,
    issue_one_time_token,
)
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
    token = await issue_one_time_token(
        session,
        user=user,
        purpose=TokenPurpose.PASSWORD_RESET,
        lifetime=timedelta(minutes=settings.password_reset_expire_minutes),
    )
    reset_email = password_reset_email(
        settings=settings, to=user.email, full_name=user.full_name, token=token
    )
    mailer.queue(reset_email)
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
