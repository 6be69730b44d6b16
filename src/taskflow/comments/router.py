"""The comment routes, under two prefixes: a task's comments (/tasks/{id}/comments) and
one comment (/comments/{id}), each with a router of its own (see taskflow.domains)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, status
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from taskflow.comments import service
from taskflow.comments.dependencies import CommentId, TaskId
from taskflow.comments.schemas import CommentCreate, CommentRead, CommentUpdate
from taskflow.comments.views import CommentView
from taskflow.core.deps import DomainRouter, IfMatch, SessionDep
from taskflow.core.errors import error_responses
from taskflow.core.etag import etag
from taskflow.core.idempotency import CREATED_HEADERS_DOC, ETAG_HEADER_DOC, IdempotencyDep
from taskflow.core.pagination import (
    PAGE_HEADERS_DOC,
    KeysetPage,
    keyset_page_params,
    set_keyset_page_headers,
)
from taskflow.identity.dependencies import authorized
from taskflow.identity.principal import Principal, Scope

task_comments_router = DomainRouter(prefix="/tasks", tags=["comments"])
router = DomainRouter(prefix="/comments", tags=["comments"])
COMMENT_LIST = TypeAdapter(list[CommentRead])

# Comment routes use only the caller's id, email and name: the cached principal serves.
Reader = Annotated[Principal, authorized(Scope.COMMENTS_READ, from_cache=True)]
Writer = Annotated[Principal, authorized(Scope.COMMENTS_WRITE, from_cache=True)]


def _read(response: Response, comment: CommentView) -> CommentRead:
    """A comment's view as answered, with the ETag of its version."""
    response.headers["ETag"] = etag(comment["version"])
    return CommentRead.model_validate(comment)


def _comment_location(request: Request, comment_id: int) -> str:
    """/api/v1/comments/{id}, from /api/v1/tasks/{task_id}/comments."""
    url = request.url
    api_root = url.path.rstrip("/").rsplit("/tasks/", 1)[0]
    return str(url.replace(path=f"{api_root}/comments/{comment_id}", query=""))


@task_comments_router.get(
    "/{task_id:int}/comments",
    response_model=list[CommentRead],
    responses={200: {"headers": PAGE_HEADERS_DOC}, **error_responses(401, 403, 404, 422)},
    summary="The comments of a task, oldest first, cursor-paged",
)
async def list_comments(
    request: Request,
    task_id: TaskId,
    response: Response,
    principal: Reader,
    session: SessionDep,
    page: Annotated[KeysetPage, Depends(keyset_page_params)],
) -> list[CommentRead]:
    found = await service.list_comments(
        session=session, principal=principal, task_id=task_id, page=page
    )
    set_keyset_page_headers(
        request, response, page=page, total=found.total, next_cursor=found.next_cursor
    )
    return COMMENT_LIST.validate_python(found.comments)


@task_comments_router.post(
    "/{task_id:int}/comments",
    status_code=status.HTTP_201_CREATED,
    response_model=CommentRead,
    responses={201: {"headers": CREATED_HEADERS_DOC}, **error_responses(401, 403, 404, 409, 422)},
    summary="Comment on a task (owner, editors and administrators)",
)
async def create_comment(
    request: Request,
    task_id: TaskId,
    body: CommentCreate,
    response: Response,
    principal: Writer,
    session: SessionDep,
    idempotency: IdempotencyDep,
) -> CommentRead | Response:
    replay = await idempotency.begin(principal.user.id, body)
    if replay is not None:
        return replay
    comment = await service.create_comment(
        session=session, principal=principal, task_id=task_id, body=body.body
    )
    response.headers["Location"] = _comment_location(request, comment["id"])
    result = _read(response, comment)
    await idempotency.complete(status.HTTP_201_CREATED, result, headers=response.headers)
    return result


@router.get(
    "/{comment_id:int}",
    response_model=CommentRead,
    responses={200: {"headers": ETAG_HEADER_DOC}, **error_responses(401, 403, 404, 422)},
    summary="One comment",
)
async def read_comment(
    comment_id: CommentId, principal: Reader, session: SessionDep, response: Response
) -> CommentRead:
    comment = await service.read_comment(
        session=session, principal=principal, comment_id=comment_id
    )
    return _read(response, comment)


@router.patch(
    "/{comment_id:int}",
    response_model=CommentRead,
    responses={200: {"headers": ETAG_HEADER_DOC}, **error_responses(401, 403, 404, 409, 412, 422)},
    summary="Edit a comment (its author only); If-Match guards against lost updates",
)
async def update_comment(
    comment_id: CommentId,
    body: CommentUpdate,
    principal: Writer,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommentRead:
    comment = await service.update_comment(
        session=session,
        principal=principal,
        comment_id=comment_id,
        body=body.body,
        if_match=if_match,
    )
    return _read(response, comment)


@router.delete(
    "/{comment_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409, 412, 422),
    summary="Delete a comment (its author, the project owner or an administrator)",
)
async def delete_comment(
    comment_id: CommentId, principal: Writer, session: SessionDep, if_match: IfMatch = None
) -> None:
    await service.delete_comment(
        session=session, principal=principal, comment_id=comment_id, if_match=if_match
    )
