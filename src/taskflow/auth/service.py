"""Login, token rotation, lockout, password changes and emailed one-time tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.audit import service as audit
from taskflow.audit.models import AuditEvent
from taskflow.auth import emails
from taskflow.auth.models import OneTimeToken, RefreshToken, TokenPurpose
from taskflow.config import Settings
from taskflow.core import clock, security
from taskflow.core.cache import touch
from taskflow.core.email import Mailer
from taskflow.core.errors import BadRequest, Conflict, Unauthorized
from taskflow.core.metrics import LOGINS
from taskflow.core.security import PasswordHasher
from taskflow.users.models import User, normalise_email


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


class InvalidOneTimeToken(BadRequest):
    error = "invalid_token"
    detail = "Invalid, used or expired token"


class WrongCurrentPassword(BadRequest):
    error = "invalid_password"
    detail = "Current password is incorrect"


class AlreadyVerified(Conflict):
    error = "already_verified"
    detail = "Email address is already verified"


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


# --- sessions -----------------------------------------------------------------------------


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
            await _revoke(session, RefreshToken.family_id == known.family_id)
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
        await _revoke(session, RefreshToken.family_id == login.family_id)
        audit.record(
            session, AuditEvent.LOGOUT, actor_id=login.user_id, subject_user_id=login.user_id
        )


async def revoke_all_sessions(*, session: AsyncSession, user_id: int) -> None:
    await _revoke(session, RefreshToken.user_id == user_id)


async def _revoke(session: AsyncSession, condition: ColumnElement[bool]) -> None:
    await session.execute(
        update(RefreshToken)
        .where(condition, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )


# --- passwords ----------------------------------------------------------------------------


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
    user = await _user_by_email(session, email)
    if user is None or not user.is_active:
        audit.record(
            session,
            AuditEvent.PASSWORD_RESET_REQUESTED,
            actor_id=None,
            subject_user_id=user.id if user else None,
            details={"email": normalise_email(email), "sent": False},
        )
        return
    await _email_one_time_token(session, settings, mailer, user, TokenPurpose.PASSWORD_RESET)
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
    consumed = await _consume_one_time_token(
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


# --- email verification -------------------------------------------------------------------


async def send_verification(
    *, session: AsyncSession, settings: Settings, mailer: Mailer, user: User
) -> None:
    await _email_one_time_token(session, settings, mailer, user, TokenPurpose.EMAIL_VERIFICATION)


async def resend_verification(
    *, session: AsyncSession, settings: Settings, mailer: Mailer, user: User
) -> None:
    if user.is_verified:
        raise AlreadyVerified()
    await send_verification(session=session, settings=settings, mailer=mailer, user=user)


async def verify_email(*, session: AsyncSession, token: str) -> User:
    consumed = await _consume_one_time_token(
        session, token=token, purpose=TokenPurpose.EMAIL_VERIFICATION
    )
    user = await session.get(User, consumed.user_id)
    # A link verifies the address it was sent to, not one the account has changed to since.
    if user is None or not user.is_active or user.email != consumed.email:
        raise InvalidOneTimeToken()
    user.is_verified = True
    await session.flush()
    touch(session, auth=[user.id])
    audit.record(
        session,
        AuditEvent.EMAIL_VERIFIED,
        actor_id=user.id,
        subject_user_id=user.id,
        details={"email": user.email},
    )
    return user


# --- one-time tokens ----------------------------------------------------------------------


def _token_lifetime(settings: Settings, purpose: TokenPurpose) -> timedelta:
    if purpose is TokenPurpose.PASSWORD_RESET:
        return timedelta(minutes=settings.password_reset_expire_minutes)
    return timedelta(hours=settings.email_verification_expire_hours)


_COMPOSERS = {
    TokenPurpose.PASSWORD_RESET: emails.password_reset_email,
    TokenPurpose.EMAIL_VERIFICATION: emails.verification_email,
}


async def _email_one_time_token(
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


@dataclass(frozen=True, slots=True)
class _ConsumedToken:
    user_id: int
    email: str | None


async def _consume_one_time_token(
    session: AsyncSession, *, token: str, purpose: TokenPurpose
) -> _ConsumedToken:
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
    return _ConsumedToken(user_id=row.user_id, email=row.email)
