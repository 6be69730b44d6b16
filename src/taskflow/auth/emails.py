"""The messages the auth flows send; links point at the front end."""

from __future__ import annotations

from urllib.parse import urlencode

from taskflow.config import Settings
from taskflow.core.email import OutgoingEmail


def _link(settings: Settings, path: str, token: str) -> str:
    return f"{settings.frontend_base}/{path}?{urlencode({'token': token})}"


def password_reset_email(
    *, settings: Settings, to: str, full_name: str, token: str
) -> OutgoingEmail:
    minutes = settings.password_reset_expire_minutes
    return OutgoingEmail(
        to=to,
        subject="Reset your TaskFlow password",
        body=(
            f"Hello {full_name},\n\n"
            "Someone asked to reset the password of your TaskFlow account. To choose a new one,"
            f" open this link within {minutes} minutes:\n\n"
            f"{_link(settings, 'reset-password', token)}\n\n"
            "If it was not you, ignore this message; your password stays as it is.\n"
        ),
    )


def verification_email(*, settings: Settings, to: str, full_name: str, token: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject="Confirm your TaskFlow email address",
        body=(
            f"Hello {full_name},\n\n"
            "Please confirm that this address belongs to your TaskFlow account by opening:\n\n"
            f"{_link(settings, 'verify-email', token)}\n\n"
            f"The link works for {settings.email_verification_expire_hours} hours.\n"
        ),
    )
