"""Dependencies for the app-wide resources made in the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import BackgroundTasks, Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from taskflow.config import Settings
from taskflow.core.db import request_session
from taskflow.core.email import Mailer
from taskflow.core.security import PasswordHasher


async def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def password_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


async def mailer(request: Request, background: BackgroundTasks) -> Mailer:
    return Mailer(request.app.state.email_sender, background)


# scope="function": the commit happens before the response is sent, so a failed commit is a 500
# the client sees, and what a client reads next has been written.
SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(app_settings)]
HasherDep = Annotated[PasswordHasher, Depends(password_hasher)]
MailerDep = Annotated[Mailer, Depends(mailer)]
