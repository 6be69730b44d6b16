"""Logging in: credentials and lockout, then refresh token rotation and logout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.audit import service as audit
from taskflow.audit.models import AuditEvent
from taskflow.config import Settings
from taskflow.core import clock, security
from taskflow.core.cache import touch
from taskflow.core.errors import Unauthorized
from taskflow.core.metrics import LOGINS
from taskflow.core.security import PasswordHasher
from taskflow.users.models import RefreshToken, User, normalise_email
from taskflow.users.sessions import revoke_login


class InvalidCredentials(Unauthorized):
    error = "invalid_credentials"
    detail = "Invalid credentials"
    keeps_changes = True  # the failed attempt is counted even though the request fails


class AccountLocked(Unauthorized):
    error = "account_locked"
    detail = "Account locked after too many failed logins; try again later or reset the password"
    keeps_changes = True  # the refused attempt is audited


class InvalidRefreshToken(Unauthorized):
    error = "invalid_token"
    detail = "Invalid or expired refresh token"


class RefreshTokenReused(Unauthorized):
    error = "token_reuse_detected"
    detail = "Refresh token reuse detected; every session of this login has been revoked"
    keeps_changes = True  # the revocation of the family must hold


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


async def _user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == normalise_email(email)))


def _is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > clock.now()


def _login_failed(session: AsyncSession, user_id: int | None, reason: str, **details: str) -> None:
    audit.record(
        session,
        AuditEvent.LOGIN_FAILURE,
        actor_id=None,
        subject_user_id=user_id,
        details={"reason": reason, **details},
    )
    LOGINS.labels(outcome="locked" if reason == "locked" else "failure").inc()


async def _record_failed_login(session: AsyncSession, user: User, settings: Settings) -> bool:
    """Count a failed login atomically; at the threshold, lock the account and restart the
    count. True when this failure locked the account."""
    failures = await session.scalar(
        update(User)
        .where(User.id == user.id)
        .values(failed_login_count=User.failed_login_count + 1, updated_at=User.updated_at)
        .returning(User.failed_login_count)
    )
    if failures is None or failures < settings.lockout_threshold:
        return False
    await session.execute(
        update(User)
        .where(User.id == user.id)
        .values(
            failed_login_count=0,
            locked_until=clock.now() + timedelta(minutes=settings.lockout_minutes),
            updated_at=User.updated_at,
        )
    )
    return True


async def authenticate(
    *,
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    email: str,
    password: str,
) -> User:
    """The user for these credentials, or InvalidCredentials / AccountLocked.

    Unknown emails are verified against a dummy hash, so they take as long as wrong passwords.
    """
    # No stored email holds a NUL (the JSON routes refuse it), and PostgreSQL text cannot
    # carry one, so a form username with NUL is an unknown email, not a query.
    user = None if "\x00" in email else await _user_by_email(session, email)
    if user is None:
        await hasher.burn_time(password)
        _login_failed(
            session, None, "unknown_email", email=normalise_email(email).replace("\x00", "")
        )
        raise InvalidCredentials()
    if _is_locked(user):
        _login_failed(session, user.id, "locked")
        raise AccountLocked()
    valid, updated_hash = await hasher.verify_and_update(password, user.password_hash)
    if not valid:
        _login_failed(session, user.id, "wrong_password")
        if await _record_failed_login(session, user, settings):
            audit.record(
                session,
                AuditEvent.ACCOUNT_LOCKED,
                actor_id=None,
                subject_user_id=user.id,
                details={"minutes": settings.lockout_minutes},
            )
        raise InvalidCredentials()
    if not user.is_active:
        _login_failed(session, user.id, "inactive")
        raise InvalidCredentials()
    audit.record(session, AuditEvent.LOGIN_SUCCESS, actor_id=user.id, subject_user_id=user.id)
    LOGINS.labels(outcome="success").inc()
    if updated_hash is not None or user.failed_login_count or user.locked_until is not None:
        touch(session, auth=[user.id])  # the row changes, and so does its updated_at
    if updated_hash is not None:
        user.password_hash = updated_hash
    user.failed_login_count = 0
    user.locked_until = None
    return user


async def issue_tokens(
    *, session: AsyncSession, settings: Settings, user: User, family_id: str | None = None
) -> TokenPair:
    """A new access token and a new refresh token (of a new login family unless one is given)."""
    refresh_token = security.new_opaque_token()
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id or uuid.uuid4().hex,
            token_hash=security.hash_token(refresh_token),
            expires_at=clock.now() + timedelta(days=settings.refresh_token_expire_days),
        )
    )
    await session.flush()
    access = security.create_access_token(
        user_id=user.id,
        secret=settings.jwt_secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        lifetime=timedelta(minutes=settings.access_token_expire_minutes),
    )
    return TokenPair(
        access_token=access.token, refresh_token=refresh_token, expires_in=access.expires_in
    )


async def rotate_refresh_token(
    *, session: AsyncSession, settings: Settings, refresh_token: str
) -> TokenPair:
    """Spend a refresh token for a new pair; a spent one presented again revokes its family."""
    token_hash = security.hash_token(refresh_token)
    now = clock.now()
    # One conditional UPDATE spends the token: of two racing requests exactly one gets a row.
    spent = (
        await session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(RefreshToken.user_id, RefreshToken.family_id)
        )
    ).first()
    if spent is None:
        known = await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )
        if known is not None and known.used_at is not None:
            await revoke_login(session=session, family_id=known.family_id)
            audit.record(
                session,
                AuditEvent.TOKEN_REUSE_DETECTED,
                actor_id=None,
                subject_user_id=known.user_id,
                details={"family_revoked": True},
            )
            raise RefreshTokenReused()
        raise InvalidRefreshToken()
    user = await session.get(User, spent.user_id)
    if user is None or not user.is_active:
        raise InvalidRefreshToken()
    audit.record(session, AuditEvent.TOKEN_REFRESH, actor_id=user.id, subject_user_id=user.id)
    return await issue_tokens(
        session=session, settings=settings, user=user, family_id=spent.family_id
    )


async def logout(*, session: AsyncSession, refresh_token: str) -> None:
    """End the login the token belongs to; an unknown token is already logged out."""
    login = (
        await session.execute(
            select(RefreshToken.family_id, RefreshToken.user_id).where(
                RefreshToken.token_hash == security.hash_token(refresh_token)
            )
        )
    ).first()
    if login is not None:
        await revoke_login(session=session, family_id=login.family_id)
        audit.record(
            session, AuditEvent.LOGOUT, actor_id=login.user_id, subject_user_id=login.user_id
        )
