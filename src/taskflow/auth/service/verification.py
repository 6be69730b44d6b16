"""Email verification: sending the link again, and following it (users sends the first)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.audit import service as audit
from taskflow.audit.models import AuditEvent
from taskflow.config import Settings
from taskflow.core.cache import touch
from taskflow.core.email import Mailer
from taskflow.core.errors import Conflict
from taskflow.users.models import TokenPurpose, User
from taskflow.users.one_time_tokens import InvalidOneTimeToken, consume_one_time_token
from taskflow.users.verification import send_verification


class AlreadyVerified(Conflict):
    error = "already_verified"
    detail = "Email address is already verified"


async def resend_verification(
    *, session: AsyncSession, settings: Settings, mailer: Mailer, user: User
) -> None:
    if user.is_verified:
        raise AlreadyVerified()
    await send_verification(session=session, settings=settings, mailer=mailer, user=user)


async def verify_email(*, session: AsyncSession, token: str) -> User:
    consumed = await consume_one_time_token(
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
