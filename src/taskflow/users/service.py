"""Account use cases. Services add and flush; the request commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.audit import service as audit
from taskflow.audit.models import AuditEvent
from taskflow.config import Settings
from taskflow.core.cache import touch
from taskflow.core.cache_contract import touch_naming_user
from taskflow.core.email import Mailer
from taskflow.core.errors import Conflict
from taskflow.core.pagination import Page
from taskflow.core.security import PasswordHasher
from taskflow.identity.policy import SessionRequired
from taskflow.identity.principal import Principal
from taskflow.users import policy
from taskflow.users.models import Role, User, normalise_email
from taskflow.users.sessions import revoke_all_sessions
from taskflow.users.verification import send_verification


class EmailTaken(Conflict):
    error = "email_taken"
    detail = "A user with this email already exists"


async def get_user(*, session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def email_exists(*, session: AsyncSession, email: str) -> bool:
    return await session.scalar(select(User.id).where(User.email == email)) is not None


async def _ensure_email_free(
    session: AsyncSession, email: str, *, except_user_id: int | None = None
) -> None:
    query = select(User.id).where(User.email == email)
    if except_user_id is not None:
        query = query.where(User.id != except_user_id)
    if await session.scalar(query) is not None:
        raise EmailTaken()


async def _flush_unique_email(session: AsyncSession) -> None:
    # A concurrent request may take the email between the check and the write.
    try:
        await session.flush()
    except IntegrityError as error:
        raise EmailTaken() from error


async def create_user(
    *,
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    mailer: Mailer,
    email: str,
    password: str,
    full_name: str,
    role: Role = Role.USER,
    verified: bool = False,
) -> User:
    """A new account; unless already verified, a verification email goes to its address."""
    email = normalise_email(email)
    await _ensure_email_free(session, email)
    user = User(
        email=email,
        full_name=full_name,
        password_hash=await hasher.hash(password),
        role=role.value,
        is_verified=verified,
    )
    session.add(user)
    await _flush_unique_email(session)
    if not verified:
        await send_verification(session=session, settings=settings, mailer=mailer, user=user)
    return user


async def list_users(
    *, session: AsyncSession, page: Page, search: str | None = None
) -> tuple[list[User], int]:
    rows = select(User).order_by(User.id).offset(page.skip).limit(page.limit)
    count = select(func.count()).select_from(User)
    if search:
        matches = or_(
            User.email.icontains(search, autoescape=True),
            User.full_name.icontains(search, autoescape=True),
        )
        rows, count = rows.where(matches), count.where(matches)
    users = list((await session.scalars(rows)).all())
    return users, await session.scalar(count) or 0


async def update_user(
    *,
    session: AsyncSession,
    settings: Settings,
    mailer: Mailer,
    principal: Principal,
    user: User,
    changes: Mapping[str, Any],
) -> User:
    """Apply the fields given. A new email must be verified again; deactivation ends sessions."""
    if "email" in changes and not principal.is_session:
        raise SessionRequired("Changing an email needs a logged-in session; API keys cannot do it")
    policy.ensure_can_update(principal, changes.keys())
    policy.ensure_not_self_demotion(
        principal, user, role=changes.get("role"), is_active=changes.get("is_active")
    )
    email_changed = False
    if "email" in changes:
        new_email = normalise_email(changes["email"])
        if new_email != user.email:
            await _ensure_email_free(session, new_email, except_user_id=user.id)
            user.email = new_email
            user.is_verified = False
            email_changed = True
    old_role, was_active = str(user.role), user.is_active
    for field in ("full_name", "role", "is_active"):
        if field in changes:
            setattr(user, field, changes[field])
    await _flush_unique_email(session)
    await _forget_cached(session, user, changes.keys())
    if str(user.role) != old_role:
        audit.record(
            session,
            AuditEvent.ROLE_CHANGED,
            actor_id=principal.user.id,
            subject_user_id=user.id,
            details={"from": old_role, "to": str(user.role)},
        )
    if was_active and not user.is_active:
        await _ended(session, principal, user)
    if email_changed:
        await send_verification(session=session, settings=settings, mailer=mailer, user=user)
    return user


async def deactivate_self(*, session: AsyncSession, principal: Principal) -> None:
    policy.ensure_can_deactivate_self(principal)
    await _deactivate(session, principal, principal.user)


async def deactivate_user(*, session: AsyncSession, principal: Principal, user: User) -> None:
    policy.ensure_can_deactivate(principal, user)
    await _deactivate(session, principal, user)


async def _deactivate(session: AsyncSession, principal: Principal, user: User) -> None:
    """Deactivate (never erase) an account: its tokens and keys stop working at once."""
    was_active = user.is_active
    user.is_active = False
    await session.flush()
    await _forget_cached(session, user, {"is_active"})
    if was_active:
        await _ended(session, principal, user)


async def _ended(session: AsyncSession, principal: Principal, user: User) -> None:
    await revoke_all_sessions(session=session, user_id=user.id)
    audit.record(
        session, AuditEvent.USER_DEACTIVATED, actor_id=principal.user.id, subject_user_id=user.id
    )


async def _forget_cached(session: AsyncSession, user: User, fields: Iterable[str]) -> None:
    """Retire cached reads that show this user: its principal always; what it sees when its
    role or active flag changes; every cached read the domains declare as naming it when its
    name or email changes (see core.cache_contract)."""
    fields = set(fields)
    touch(session, auth=[user.id], users=[user.id] if fields & {"role", "is_active"} else ())
    if fields & {"full_name", "email"}:
        await touch_naming_user(session, user.id)
