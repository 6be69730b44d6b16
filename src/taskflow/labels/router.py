from __future__ import annotations

from typing import Annotated

from fastapi import status
from starlette.requests import Request
from starlette.responses import Response

from taskflow.core.deps import DomainRouter, IfMatch, SessionDep, created_location
from taskflow.core.errors import error_responses
from taskflow.core.etag import etag
from taskflow.core.idempotency import CREATED_HEADERS_DOC, ETAG_HEADER_DOC
from taskflow.identity.dependencies import authorized
from taskflow.identity.principal import Principal, Scope
from taskflow.labels import service
from taskflow.labels.dependencies import LabelId, ProjectToLabel, ReadableProject
from taskflow.labels.models import Label
from taskflow.labels.schemas import LabelCreate, LabelRead, LabelUpdate

router = DomainRouter(prefix="/projects", tags=["labels"])

# Labels belong to a project: its scopes say who may read and manage them.
Reader = Annotated[Principal, authorized(Scope.PROJECTS_READ)]
Writer = Annotated[Principal, authorized(Scope.PROJECTS_WRITE)]


def _read(label: Label) -> LabelRead:
    return LabelRead(id=label.id, project_id=label.project_id, name=label.name, color=label.color)


def _read_one(response: Response, label: Label) -> LabelRead:
    """One label as answered, with the ETag of its version (the list carries none)."""
    response.headers["ETag"] = etag(label.version)
    return _read(label)


@router.get(
    "/{project_id:int}/labels",
    response_model=list[LabelRead],
    responses=error_responses(401, 403, 404, 422),
    summary="The labels of a project, by name",
)
async def list_labels(
    principal: Reader, access: ReadableProject, session: SessionDep
) -> list[LabelRead]:
    return [_read(label) for label in await service.list_labels(session=session, access=access)]


@router.post(
    "/{project_id:int}/labels",
    status_code=status.HTTP_201_CREATED,
    response_model=LabelRead,
    responses={201: {"headers": CREATED_HEADERS_DOC}, **error_responses(401, 403, 404, 409, 422)},
    summary="Create a label (owner and editors)",
)
async def create_label(
    request: Request,
    body: LabelCreate,
    response: Response,
    principal: Writer,
    access: ProjectToLabel,
    session: SessionDep,
) -> LabelRead:
    label = await service.create_label(
        session=session,
        access=access,
        actor_id=principal.user.id,
        name=body.name,
        color=body.color,
    )
    response.headers["Location"] = created_location(request, label.id)
    return _read_one(response, label)


@router.get(
    "/{project_id:int}/labels/{label_id:int}",
    response_model=LabelRead,
    responses={200: {"headers": ETAG_HEADER_DOC}, **error_responses(401, 403, 404, 422)},
    summary="One label of a project",
)
async def read_label(
    label_id: LabelId,
    principal: Reader,
    access: ReadableProject,
    session: SessionDep,
    response: Response,
) -> LabelRead:
    label = await service.get_label(session=session, access=access, label_id=label_id)
    return _read_one(response, label)


@router.patch(
    "/{project_id:int}/labels/{label_id:int}",
    response_model=LabelRead,
    responses={200: {"headers": ETAG_HEADER_DOC}, **error_responses(401, 403, 404, 409, 412, 422)},
    summary="Rename or recolour a label (owner and editors)",
)
async def update_label(
    label_id: LabelId,
    body: LabelUpdate,
    principal: Writer,
    access: ProjectToLabel,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> LabelRead:
    label = await service.update_label(
        session=session,
        access=access,
        actor_id=principal.user.id,
        label_id=label_id,
        changes=body.model_dump(exclude_unset=True),
        if_match=if_match,
    )
    return _read_one(response, label)


@router.delete(
    "/{project_id:int}/labels/{label_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409, 412, 422),
    summary="Delete a label; the tasks carrying it lose it (owner and editors)",
)
async def delete_label(
    label_id: LabelId,
    principal: Writer,
    access: ProjectToLabel,
    session: SessionDep,
    if_match: IfMatch = None,
) -> None:
    await service.delete_label(
        session=session,
        access=access,
        actor_id=principal.user.id,
        label_id=label_id,
        if_match=if_match,
    )
