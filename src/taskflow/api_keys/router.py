from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, status
from starlette.requests import Request
from starlette.responses import Response

from taskflow.api_keys import service
from taskflow.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from taskflow.core.deps import DomainRouter, SessionDep
from taskflow.core.errors import error_responses
from taskflow.core.pagination import PAGE_HEADERS_DOC, Page, page_params, set_page_headers
from taskflow.core.types import MAX_ID
from taskflow.identity.dependencies import authorized
from taskflow.identity.principal import Principal

# Keys are managed only from a logged-in session: a key can never mint or revoke keys.
router = DomainRouter(prefix="/api-keys", tags=["api keys"])
SessionPrincipal = Annotated[Principal, authorized(session_only=True)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=error_responses(401, 403, 422),
    summary="Create an API key; the key is in this response only",
)
async def create_api_key(
    body: ApiKeyCreate, principal: SessionPrincipal, session: SessionDep
) -> ApiKeyCreated:
    api_key, key = await service.create_key(
        session=session,
        user=principal.user,
        name=body.name,
        scopes=body.scopes,
        expires_in_days=body.expires_in_days,
    )
    return ApiKeyCreated(**ApiKeyRead.model_validate(api_key).model_dump(), key=key)


@router.get(
    "",
    response_model=list[ApiKeyRead],
    responses={200: {"headers": PAGE_HEADERS_DOC}, **error_responses(401, 403, 422)},
    summary="List the caller's API keys (never their secrets)",
)
async def list_api_keys(
    request: Request,
    response: Response,
    principal: SessionPrincipal,
    session: SessionDep,
    page: Annotated[Page, Depends(page_params)],
) -> list[ApiKeyRead]:
    keys, total = await service.list_keys(session=session, user_id=principal.user.id, page=page)
    set_page_headers(request, response, page=page, total=total)
    return [ApiKeyRead.model_validate(key) for key in keys]


@router.delete(
    "/{key_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
    summary="Revoke one of the caller's API keys",
)
async def delete_api_key(
    key_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    principal: SessionPrincipal,
    session: SessionDep,
) -> None:
    await service.delete_key(session=session, user_id=principal.user.id, key_id=key_id)
