from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from taskflow.core.types import Email, OpaqueToken, Password, PasswordAttempt, RequestModel


class LoginRequest(RequestModel):
    email: Email
    password: PasswordAttempt


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int = Field(description="Seconds until the access token expires")


class RefreshRequest(RequestModel):
    refresh_token: OpaqueToken


class ChangePasswordRequest(RequestModel):
    current_password: PasswordAttempt
    new_password: Password


class PasswordResetRequest(RequestModel):
    email: Email


class PasswordResetAccepted(BaseModel):
    """The same answer whether or not the email belongs to an account."""

    detail: Literal["If an active account has this email, a reset link was sent to it."] = (
        "If an active account has this email, a reset link was sent to it."
    )


class PasswordResetConfirm(RequestModel):
    token: OpaqueToken
    new_password: Password


class VerifyEmailRequest(RequestModel):
    token: OpaqueToken
