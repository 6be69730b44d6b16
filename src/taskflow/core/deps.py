"""Dependencies for the app-wide resources made in the lifespan."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Header
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from taskflow.config import Settings
from taskflow.core.db import UNIT_OF_WORK, end_request_session, request_session
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


class UnitOfWorkRoute(APIRoute):
    """A route whose request is one unit of work: the session it used (if any) commits once
    the route has answered and before the answer is sent, so a failed commit is the error
    the client sees and what a client reads next has been written; on error it rolls back.

    Every domain router uses it (see DomainRouter). It does what a
    dependency with `yield` would, without that machinery on every request, and opens no
    session for a request that needs none.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        answer = super().get_route_handler()

        async def unit_of_work(request: Request) -> Response:
            request.scope[UNIT_OF_WORK] = True
            try:
                response = await answer(request)
            except BaseException as error:
                await end_request_session(request, error)
                raise
            await end_request_session(request, None)
            return response

        return unit_of_work


class DomainRouter(APIRouter):
    """A domain's router: its routes are units of work (UnitOfWorkRoute), and all of them
    lie under its prefix, so a request whose path lies elsewhere is passed over at once.

    FastAPI tries the routes of each included router in turn, each try costing a regex
    and some bookkeeping: a request for the tenth router would try every route of the nine
    before it. Call `served_under` with the prefix the app includes the router under.
    """

    def __init__(self, *, prefix: str = "", **options: Any) -> None:
        super().__init__(prefix=prefix, route_class=UnitOfWorkRoute, **options)
        self._path_prefix: str | None = None

    def served_under(self, prefix: str) -> None:
        self._path_prefix = f"{prefix}{self.prefix}" if self.prefix else None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        prefix = self._path_prefix
        if prefix is not None:
            path: str = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            if not (path == prefix or path.startswith(f"{prefix}/")):
                return Match.NONE, {}
        return super().matches(scope)


def created_location(request: Request, resource_id: int) -> str:
    """The Location of a resource just created by POST to its collection: the collection's
    URL and the id. (url_for walks every route to find one by name.)"""
    url = request.url
    return str(url.replace(path=f"{url.path.rstrip('/')}/{resource_id}", query=""))


# The ETag a write is based on; the write fails with 412 when the resource has moved on.
IfMatch = Annotated[
    str | None,
    Header(max_length=1024, description="An ETag from a GET; the write fails with 412 if stale"),
]
SessionDep = Annotated[AsyncSession, Depends(request_session)]
SettingsDep = Annotated[Settings, Depends(app_settings)]
HasherDep = Annotated[PasswordHasher, Depends(password_hasher)]
MailerDep = Annotated[Mailer, Depends(mailer)]
