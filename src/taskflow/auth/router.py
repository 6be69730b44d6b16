from __future__ import annotations

from typing import Annotated

from fastapi import Depends, status
from fastapi.security import OAuth2PasswordRequestForm
from starlette.requests import Request
from starlette.responses import Response

from taskflow.auth.schemas import (
    ChangePasswordRequest,
    LoginRequest,
    PasswordResetAccepted,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    TokenResponse,
    VerifyEmailRequest,
)
from taskflow.auth.service import logins, passwords, verification
from taskflow.core.deps import DomainRouter, HasherDep, MailerDep, SessionDep, SettingsDep
from taskflow.core.errors import error_responses
from taskflow.core.idempotency import LOCATION_DOC
from taskflow.identity.dependencies import authorized, limited_per_ip
from taskflow.identity.principal import Principal, Scope
from taskflow.users import service as users_service
from taskflow.users.schemas import UserCreate, UserRead

router = DomainRouter(prefix="/auth", tags=["auth"])


def _token_response(pair: logins.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses={201: {"headers": LOCATION_DOC}, **error_responses(409, 422, 429)},
    dependencies=[limited_per_ip("register")],
    summary="Create an account and send a verification email",
)
async def register(
    request: Request,
    response: Response,
    body: UserCreate,
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
    mailer: MailerDep,
) -> UserRead:
    user = await users_service.create_user(
        session=session,
        hasher=hasher,
        settings=settings,
        mailer=mailer,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
    )
    response.headers["Location"] = str(request.url_for("read_user", user_id=user.id))
    return UserRead.model_validate(user)


async def _login(
    session: SessionDep, hasher: HasherDep, settings: SettingsDep, email: str, password: str
) -> TokenResponse:
    user = await logins.authenticate(
        session=session, hasher=hasher, settings=settings, email=email, password=password
    )
    return _token_response(await logins.issue_tokens(session=session, settings=settings, user=user))


@router.post(
    "/login",
    response_model=TokenResponse,
    responses=error_responses(401, 422, 429),
    dependencies=[limited_per_ip("login")],
    summary="Log in with email and password",
)
async def login(
    body: LoginRequest, session: SessionDep, hasher: HasherDep, settings: SettingsDep
) -> TokenResponse:
    return await _login(session, hasher, settings, body.email, body.password)


@router.post(
    "/token",
    response_model=TokenResponse,
    responses=error_responses(401, 422, 429),
    dependencies=[limited_per_ip("login")],
    summary="Log in with an OAuth2 password form (username is the email)",
)
async def login_with_form(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> TokenResponse:
    return await _login(session, hasher, settings, form.username, form.password)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses=error_responses(401, 422),
    summary="Spend a refresh token for a new token pair",
)
async def refresh_tokens(
    body: RefreshRequest, session: SessionDep, settings: SettingsDep
) -> TokenResponse:
    pair = await logins.rotate_refresh_token(
        session=session, settings=settings, refresh_token=body.refresh_token
    )
    return _token_response(pair)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(422),
    summary="End the login a refresh token belongs to",
)
async def logout(body: RefreshRequest, session: SessionDep) -> None:
    await logins.logout(session=session, refresh_token=body.refresh_token)


@router.post(
    "/change-password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 401, 403, 422),
    summary="Change the password; every refresh token of the user is revoked",
)
async def change_password(
    body: ChangePasswordRequest,
    principal: Annotated[Principal, authorized(session_only=True)],
    session: SessionDep,
    hasher: HasherDep,
) -> None:
    await passwords.change_password(
        session=session,
        hasher=hasher,
        user=principal.user,
        current_password=body.current_password,
        new_password=body.new_password,
    )


@router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PasswordResetAccepted,
    responses=error_responses(422, 429),
    dependencies=[limited_per_ip("password_reset")],
    summary="Email a password reset link (the answer is the same for unknown emails)",
)
async def request_password_reset(
    body: PasswordResetRequest, session: SessionDep, settings: SettingsDep, mailer: MailerDep
) -> PasswordResetAccepted:
    await passwords.request_password_reset(
        session=session, settings=settings, mailer=mailer, email=body.email
    )
    return PasswordResetAccepted()


@router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 422),
    summary="Set a new password with an emailed reset token",
)
async def confirm_password_reset(
    body: PasswordResetConfirm, session: SessionDep, hasher: HasherDep
) -> None:
    await passwords.confirm_password_reset(
        session=session, hasher=hasher, token=body.token, new_password=body.new_password
    )


@router.post(
    "/verify-email",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 422),
    summary="Confirm an email address with an emailed token",
)
async def verify_email(body: VerifyEmailRequest, session: SessionDep) -> None:
    await verification.verify_email(session=session, token=body.token)


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 409),
    summary="Send a new verification email",
)
async def resend_verification(
    principal: Annotated[Principal, authorized(Scope.USERS_WRITE)],
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
) -> None:
    await verification.resend_verification(
        session=session, settings=settings, mailer=mailer, user=principal.user
    )
