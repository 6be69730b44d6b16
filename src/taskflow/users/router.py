from __future__ import annotations

from typing import Annotated

from fastapi import Depends, status
from starlette.requests import Request
from starlette.responses import Response

from taskflow.core.deps import DomainRouter, HasherDep, MailerDep, SessionDep, SettingsDep
from taskflow.core.errors import error_responses
from taskflow.core.idempotency import LOCATION_DOC
from taskflow.core.pagination import PAGE_HEADERS_DOC, Page, page_params, set_page_headers
from taskflow.core.types import SearchQuery
from taskflow.identity.dependencies import authorized
from taskflow.identity.principal import Principal, Scope
from taskflow.users import service
from taskflow.users.dependencies import VisibleUser
from taskflow.users.schemas import AdminUserCreate, AdminUserUpdate, ProfileUpdate, UserRead

router = DomainRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserRead, responses=error_responses(401, 403))
async def read_me(principal: Annotated[Principal, authorized(Scope.USERS_READ)]) -> UserRead:
    return UserRead.model_validate(principal.user)


@router.patch(
    "/me",
    response_model=UserRead,
    responses=error_responses(401, 403, 409, 422),
    summary="Change the caller's name or email (a new email must be verified again)",
)
async def update_me(
    body: ProfileUpdate,
    principal: Annotated[Principal, authorized(Scope.USERS_WRITE)],
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
) -> UserRead:
    user = await service.update_user(
        session=session,
        settings=settings,
        mailer=mailer,
        principal=principal,
        user=principal.user,
        changes=body.model_dump(exclude_unset=True),
    )
    return UserRead.model_validate(user)


@router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403),
    summary="Deactivate the caller's account (needs a logged-in session)",
)
async def deactivate_me(
    principal: Annotated[Principal, authorized(session_only=True)], session: SessionDep
) -> None:
    await service.deactivate_self(session=session, principal=principal)


@router.get(
    "",
    response_model=list[UserRead],
    responses={200: {"headers": PAGE_HEADERS_DOC}, **error_responses(401, 403, 422)},
    summary="List users (admins)",
)
async def list_users(
    request: Request,
    response: Response,
    principal: Annotated[Principal, authorized(Scope.USERS_READ, admin_only=True)],
    session: SessionDep,
    page: Annotated[Page, Depends(page_params)],
    search: SearchQuery = None,
) -> list[UserRead]:
    users, total = await service.list_users(session=session, page=page, search=search)
    set_page_headers(request, response, page=page, total=total)
    return [UserRead.model_validate(user) for user in users]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses={201: {"headers": LOCATION_DOC}, **error_responses(401, 403, 409, 422)},
    summary="Create a user (admins)",
)
async def create_user(
    request: Request,
    response: Response,
    body: AdminUserCreate,
    principal: Annotated[Principal, authorized(Scope.USERS_WRITE, admin_only=True)],
    session: SessionDep,
    hasher: HasherDep,
    settings: SettingsDep,
    mailer: MailerDep,
) -> UserRead:
    user = await service.create_user(
        session=session,
        hasher=hasher,
        settings=settings,
        mailer=mailer,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        role=body.role,
    )
    response.headers["Location"] = str(request.url_for("read_user", user_id=user.id))
    return UserRead.model_validate(user)


@router.get(
    "/{user_id:int}", response_model=UserRead, responses=error_responses(401, 403, 404, 422)
)
async def read_user(
    principal: Annotated[Principal, authorized(Scope.USERS_READ)],
    user: VisibleUser,
) -> UserRead:
    return UserRead.model_validate(user)


@router.patch(
    "/{user_id:int}",
    response_model=UserRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Change a user: admins any field, a user its own name and email",
)
async def update_user(
    body: AdminUserUpdate,
    principal: Annotated[Principal, authorized(Scope.USERS_WRITE)],
    user: VisibleUser,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
) -> UserRead:
    user = await service.update_user(
        session=session,
        settings=settings,
        mailer=mailer,
        principal=principal,
        user=user,
        changes=body.model_dump(exclude_unset=True),
    )
    return UserRead.model_validate(user)


@router.delete(
    "/{user_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
    summary="Deactivate a user (admins)",
)
async def deactivate_user(
    principal: Annotated[Principal, authorized(Scope.USERS_WRITE)],
    user: VisibleUser,
    session: SessionDep,
) -> None:
    await service.deactivate_user(session=session, principal=principal, user=user)
