"""Authentication (who is calling) and the per-route authorization of its credential."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from starlette.requests import Request

from taskflow.api_keys import service as api_keys_service
from taskflow.auth import policy
from taskflow.auth import service as auth_service
from taskflow.auth.principal import Principal, Scope
from taskflow.core.deps import SessionDep, SettingsDep
from taskflow.core.errors import Unauthorized

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    description="Access token from POST /api/v1/auth/login or /api/v1/auth/token",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API key from POST /api/v1/api-keys"
)


async def get_principal(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bearer_token: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    if bearer_token:
        principal = await auth_service.principal_from_access_token(
            session=session, settings=settings, token=bearer_token
        )
    elif api_key:
        principal = await api_keys_service.principal_from_key(session=session, key=api_key)
    else:
        raise Unauthorized()
    request.state.user_id = principal.user.id
    return principal


class Authorize:
    """A dependency that authenticates and then checks what the credential may do."""

    def __init__(
        self, scope: Scope | None = None, *, session_only: bool = False, admin_only: bool = False
    ) -> None:
        self.scope = scope
        self.session_only = session_only
        self.admin_only = admin_only

    async def __call__(self, principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        policy.ensure_allowed(
            principal, scope=self.scope, session_only=self.session_only, admin_only=self.admin_only
        )
        return principal


def authorized(
    scope: Scope | None = None, *, session_only: bool = False, admin_only: bool = False
) -> Any:
    """`principal: Annotated[Principal, authorized(Scope.USERS_READ)]` in a route."""
    return Depends(Authorize(scope, session_only=session_only, admin_only=admin_only))
