"""The message that asks a user to confirm an address; its link points at the front end."""

from __future__ import annotations

from taskflow.config import Settings
from taskflow.core.email import OutgoingEmail, frontend_link


def verification_email(*, settings: Settings, to: str, full_name: str, token: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject="Confirm your TaskFlow email address",
        body=(
            f"Hello {full_name},\n\n"
            "Please confirm that this address belongs to your TaskFlow account by opening:\n\n"
            f"{frontend_link(settings, 'verify-email', token)}\n\n"
            f"The link works for {settings.email_verification_expire_hours} hours.\n"
        ),
    )
