"""The message the password reset flow sends; its link points at the front end."""

from __future__ import annotations

from taskflow.config import Settings
from taskflow.core.email import OutgoingEmail, frontend_link


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
            f"{frontend_link(settings, 'reset-password', token)}\n\n"
            "If it was not you, ignore this message; your password stays as it is.\n"
        ),
    )
