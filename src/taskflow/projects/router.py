from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, status
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from taskflow.activity import service as activity
from taskflow.activity.schemas import ActivityQuery, ActivityRead
from taskflow.core.cached_reads import cached_read
from taskflow.core.deps import DomainRouter, IfMatch, SessionDep, created_location
from taskflow.core.errors import error_responses
from taskflow.core.etag import etag
from taskflow.core.idempotency import CREATED_HEADERS_DOC, ETAG_HEADER_DOC, IdempotencyDep
from taskflow.core.pagination import (
    PAGE_HEADERS_DOC,
    KeysetPage,
    Page,
    keyset_page_params,
    page_params,
    set_keyset_page_headers,
    set_page_headers,
)
from taskflow.core.types import MAX_ID, SearchQuery
from taskflow.identity.dependencies import authorized
from taskflow.identity.principal import Principal, Scope
from taskflow.projects import policy, service
from taskflow.projects.cache import ONE_PROJECT, VISIBLE_PROJECTS
from taskflow.projects.dependencies import (
    LockedProject,
    ProjectForMembers,
    ProjectId,
    ReadableProject,
)
from taskflow.projects.schemas import (
    MemberCreate,
    MemberRead,
    MemberUpdate,
    ProjectCreate,
    ProjectRead,
    ProjectSort,
    ProjectUpdate,
)
from taskflow.users.schemas import UserSummary

router = DomainRouter(prefix="/projects", tags=["projects"])
PROJECT_LIST = TypeAdapter(list[ProjectRead])

Reader = Annotated[Principal, authorized(Scope.PROJECTS_READ)]
Writer = Annotated[Principal, authorized(Scope.PROJECTS_WRITE)]


def _with_etag(response: Response, access: policy.ProjectAccess) -> ProjectRead:
    response.headers["ETag"] = etag(access.project.version)
    return ProjectRead.of(access)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ProjectRead,
    responses={201: {"headers": CREATED_HEADERS_DOC}, **error_responses(401, 403, 409, 422)},
    summary="Create a project owned by the caller",
)
async def create_project(
    request: Request,
    body: ProjectCreate,
    response: Response,
    principal: Writer,
    session: SessionDep,
    idempotency: IdempotencyDep,
) -> ProjectRead | Response:
    replay = await idempotency.begin(principal.user.id, body)
    if replay is not None:
        return replay
    access = await service.create_project(
        session=session, principal=principal, name=body.name, description=body.description
    )
    result = _with_etag(response, access)
    response.headers["Location"] = created_location(request, result.id)
    await idempotency.complete(status.HTTP_201_CREATED, result, headers=response.headers)
    return result


@router.get(
    "",
    response_model=list[ProjectRead],
    responses={200: {"headers": PAGE_HEADERS_DOC}, **error_responses(401, 403, 422)},
    summary="Projects the caller owns or is a member of (admins: all)",
)
@cached_read(reads=VISIBLE_PROJECTS)
async def list_projects(
    request: Request,
    response: Response,
    principal: Reader,
    session: SessionDep,
    page: Annotated[Page, Depends(page_params)],
    my_projects_only: Annotated[bool, Query(description="Only projects the caller owns")] = False,
    include_archived: bool = False,
    search: SearchQuery = None,
    sort: Annotated[
        ProjectSort, Query(description="A leading '-' sorts descending")
    ] = "-created_at",
) -> bytes:
    projects, total = await service.list_projects(
        session=session,
        principal=principal,
        page=page,
        my_projects_only=my_projects_only,
        include_archived=include_archived,
        search=search,
        sort=sort,
    )
    set_page_headers(request, response, page=page, total=total)
    return PROJECT_LIST.dump_json([ProjectRead.of(access) for access in projects])


@router.get(
    "/{project_id:int}",
    response_model=ProjectRead,
    responses={200: {"headers": ETAG_HEADER_DOC}, **error_responses(401, 403, 404, 422)},
)
@cached_read(reads=ONE_PROJECT)
async def read_project(
    request: Request,
    project_id: ProjectId,
    principal: Reader,
    session: SessionDep,
    response: Response,
) -> ProjectRead:
    access = await service.get_access(session=session, principal=principal, project_id=project_id)
    return _with_etag(response, access)


@router.patch(
    "/{project_id:int}",
    response_model=ProjectRead,
    responses={200: {"headers": ETAG_HEADER_DOC}, **error_responses(401, 403, 404, 412, 422)},
    summary="Rename, describe, archive or unarchive a project (owner or admin)",
)
async def update_project(
    body: ProjectUpdate,
    principal: Writer,
    access: LockedProject,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ProjectRead:
    policy.ensure_can_manage(access)
    access = await service.update_project(
        session=session,
        access=access,
        actor_id=principal.user.id,
        changes=body.model_dump(exclude_unset=True),
        if_match=if_match,
    )
    return _with_etag(response, access)


@router.delete(
    "/{project_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 412, 422),
    summary="Delete a project and its tasks (owner or admin)",
)
async def delete_project(
    principal: Writer, access: LockedProject, session: SessionDep, if_match: IfMatch = None
) -> None:
    policy.ensure_can_manage(access)
    await service.delete_project(
        session=session, access=access, actor_id=principal.user.id, if_match=if_match
    )


# --- members ------------------------------------------------------------------------------


@router.get(
    "/{project_id:int}/members",
    response_model=list[MemberRead],
    responses={200: {"headers": PAGE_HEADERS_DOC}, **error_responses(401, 403, 404, 422)},
    summary="The owner and the members of a project",
)
async def list_members(
    request: Request,
    response: Response,
    principal: Reader,
    access: ReadableProject,
    session: SessionDep,
    page: Annotated[Page, Depends(page_params)],
) -> list[MemberRead]:
    rows, total = await service.list_members(session=session, access=access, page=page)
    set_page_headers(request, response, page=page, total=total)
    return [
        MemberRead(user=UserSummary.model_validate(user), role=role, added_at=added_at)
        for user, role, added_at in rows
    ]


@router.post(
    "/{project_id:int}/members",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Share the project with a user, as editor or viewer (owner or admin)",
)
async def add_member(
    body: MemberCreate, principal: Writer, access: ProjectForMembers, session: SessionDep
) -> MemberRead:
    policy.ensure_can_manage(access)
    member = await service.add_member(
        session=session,
        access=access,
        actor_id=principal.user.id,
        email=body.email,
        role=body.role,
    )
    return MemberRead(
        user=UserSummary.model_validate(member.user),
        role=body.role.value,
        added_at=member.created_at,
    )


@router.patch(
    "/{project_id:int}/members/{user_id:int}",
    response_model=MemberRead,
    responses=error_responses(401, 403, 404, 422),
    summary="Change a member's role (owner or admin)",
)
async def change_member_role(
    user_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: MemberUpdate,
    principal: Writer,
    access: ProjectForMembers,
    session: SessionDep,
) -> MemberRead:
    policy.ensure_can_manage(access)
    member = await service.change_member_role(
        session=session, access=access, actor_id=principal.user.id, user_id=user_id, role=body.role
    )
    return MemberRead(
        user=UserSummary.model_validate(member.user),
        role=body.role.value,
        added_at=member.created_at,
    )


@router.delete(
    "/{project_id:int}/members/{user_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
    summary="Remove a member (owner or admin), or leave the project (the member itself)",
)
async def remove_member(
    user_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    principal: Writer,
    access: ProjectForMembers,
    session: SessionDep,
) -> None:
    policy.ensure_can_remove_member(access, principal, user_id)
    await service.remove_member(
        session=session, access=access, actor_id=principal.user.id, user_id=user_id
    )


# --- activity -----------------------------------------------------------------------------


@router.get(
    "/{project_id:int}/activity",
    response_model=list[ActivityRead],
    responses={200: {"headers": PAGE_HEADERS_DOC}, **error_responses(401, 403, 404, 422)},
    summary="What happened in a project, by whom, newest first (anyone who sees it)",
)
async def list_project_activity(
    request: Request,
    response: Response,
    principal: Reader,
    access: ReadableProject,
    session: SessionDep,
    page: Annotated[KeysetPage, Depends(keyset_page_params)],
    query: Annotated[ActivityQuery, Query()],
) -> list[ActivityRead]:
    # Not cached: every write of the project adds to it (see projects.cache).
    found = await activity.list_events(
        session=session, project_id=access.project.id, filters=query, page=page
    )
    set_keyset_page_headers(
        request, response, page=page, total=found.total, next_cursor=found.next_cursor
    )
    return found.events
