from __future__ import annotations

from typing import Annotated

from fastapi import Query, status
from starlette.requests import Request
from starlette.responses import Response

from taskflow.core.deps import DomainRouter, IfMatch, SessionDep, created_location
from taskflow.core.errors import error_responses
from taskflow.core.etag import etag
from taskflow.core.idempotency import CREATED_HEADERS_DOC, ETAG_HEADER_DOC
from taskflow.core.types import MAX_ID
from taskflow.identity.dependencies import authorized
from taskflow.identity.principal import Principal, Scope
from taskflow.statuses import service
from taskflow.statuses.dependencies import ProjectId, StatusId
from taskflow.statuses.models import Status
from taskflow.statuses.schemas import StatusCreate, StatusRead, StatusUpdate

router = DomainRouter(prefix="/projects", tags=["statuses"])

Reader = Annotated[Principal, authorized(Scope.PROJECTS_READ)]
Writer = Annotated[Principal, authorized(Scope.PROJECTS_WRITE)]


def _read(response: Response, status_row: Status) -> StatusRead:
    """A status as answered, with the ETag of its version (the list carries none)."""
    response.headers["ETag"] = etag(status_row.version)
    return StatusRead.model_validate(status_row)


@router.get(
    "/{project_id:int}/statuses",
    response_model=list[StatusRead],
    responses=error_responses(401, 403, 404, 422),
    summary="The project's workflow statuses, in board order",
)
async def list_statuses(
    project_id: ProjectId, principal: Reader, session: SessionDep
) -> list[StatusRead]:
    statuses = await service.list_statuses(
        session=session, principal=principal, project_id=project_id
    )
    return [StatusRead.model_validate(s) for s in statuses]


@router.post(
    "/{project_id:int}/statuses",
    status_code=status.HTTP_201_CREATED,
    response_model=StatusRead,
    responses={201: {"headers": CREATED_HEADERS_DOC}, **error_responses(401, 403, 404, 409, 422)},
    summary="Add a status (owner and editors); a duplicate name is 409",
)
async def create_status(
    request: Request,
    project_id: ProjectId,
    body: StatusCreate,
    principal: Writer,
    session: SessionDep,
    response: Response,
) -> StatusRead:
    created = await service.create_status(
        session=session,
        principal=principal,
        project_id=project_id,
        name=body.name,
        category=body.category.value,
        color=body.color,
        position=body.position,
    )
    response.headers["Location"] = created_location(request, created.id)
    return _read(response, created)


@router.patch(
    "/{project_id:int}/statuses/{status_id:int}",
    response_model=StatusRead,
    responses={200: {"headers": ETAG_HEADER_DOC}, **error_responses(401, 403, 404, 409, 412, 422)},
    summary="Rename, recategorise, recolour or move a status (the others are renumbered)",
)
async def update_status(
    project_id: ProjectId,
    status_id: StatusId,
    body: StatusUpdate,
    principal: Writer,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> StatusRead:
    changed = await service.update_status(
        session=session,
        principal=principal,
        project_id=project_id,
        status_id=status_id,
        changes=body.model_dump(exclude_unset=True),
        if_match=if_match,
    )
    return _read(response, changed)


@router.delete(
    "/{project_id:int}/statuses/{status_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409, 412, 422),
    summary="Delete a status; its tasks go to move_to (required when it holds any)",
)
async def delete_status(
    project_id: ProjectId,
    status_id: StatusId,
    principal: Writer,
    session: SessionDep,
    move_to: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="The status that takes its tasks")
    ] = None,
    if_match: IfMatch = None,
) -> None:
    await service.delete_status(
        session=session,
        principal=principal,
        project_id=project_id,
        status_id=status_id,
        move_to=move_to,
        if_match=if_match,
    )
