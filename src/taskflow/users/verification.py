"""The email that asks a user to confirm an address: sent for a new account and for a
changed address (here), and again on request (auth). Following its link is auth's."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.config import Settings
from taskflow.core.email import Mailer
from taskflow.users.emails import verification_email
from taskflow.users.models import TokenPurpose, User
from taskflow.users.one_time_tokens import issue_one_time_token


async def send_verification(
    *, session: AsyncSession, settings: Settings, mailer: Mailer, user: User
) -> None:
    """Issue a verification token for the user's current address and queue its email."""
    token = await issue_one_time_token(
        session,
        user=user,
        purpose=TokenPurpose.EMAIL_VERIFICATION,
        lifetime=timedelta(hours=settings.email_verification_expire_hours),
    )
    mailer.queue(
        verification_email(settings=settings, to=user.email, full_name=user.full_name, token=token)
    )
