from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, status
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
    keyset_page_params,
    set_keyset_page_headers,
)
from taskflow.core.types import MAX_ID
from taskflow.identity.dependencies import authorized
from taskflow.identity.principal import Principal, Scope
from taskflow.statuses.schemas import StatusRead
from taskflow.tasks import board, bulk, creation, moves, service
from taskflow.tasks.cache import ONE_TASK, VISIBLE_TASKS
from taskflow.tasks.dependencies import LockedTask, TaskId
from taskflow.tasks.schemas import (
    BoardColumn,
    BoardRead,
    BulkUpdate,
    BulkUpdateResult,
    TaskCreate,
    TaskListQuery,
    TaskMove,
    TaskRead,
    TaskUpdate,
)
from taskflow.tasks.views import TaskView, tasks_json

router = DomainRouter(prefix="/tasks", tags=["tasks"])

# Task routes never use the caller's user row: the cached principal serves writes too.
Reader = Annotated[Principal, authorized(Scope.TASKS_READ, from_cache=True)]
Writer = Annotated[Principal, authorized(Scope.TASKS_WRITE, from_cache=True)]


def _read(response: Response, task: TaskView) -> TaskRead:
    """A task's view as answered, with the ETag of its version."""
    response.headers["ETag"] = etag(task["version"])
    return TaskRead.model_validate(task)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskRead,
    responses={201: {"headers": CREATED_HEADERS_DOC}, **error_responses(401, 403, 404, 409, 422)},
    summary="Create a task in a project the caller may edit",
)
async def create_task(
    request: Request,
    body: TaskCreate,
    response: Response,
    principal: Writer,
    session: SessionDep,
    idempotency: IdempotencyDep,
) -> TaskRead | Response:
    replay = await idempotency.begin(principal.user.id, body)
    if replay is not None:
        return replay
    task = await creation.create_task(
        session=session,
        principal=principal,
        project_id=body.project_id,
        title=body.title,
        description=body.description,
        priority=body.priority,
        due_date=body.due_date,
        assignee_id=body.assignee_id,
        parent_id=body.parent_id,
        label_ids=body.label_ids,
        status_id=body.status_id,
    )
    response.headers["Location"] = created_location(request, task["id"])
    result = _read(response, task)
    await idempotency.complete(status.HTTP_201_CREATED, result, headers=response.headers)
    return result


@router.get(
    "",
    response_model=list[TaskRead],
    responses={200: {"headers": PAGE_HEADERS_DOC}, **error_responses(401, 403, 422)},
    summary="Tasks of the projects the caller can see, filtered, sorted and paged",
)
@cached_read(reads=VISIBLE_TASKS)
async def list_tasks(
    request: Request,
    response: Response,
    principal: Reader,
    session: SessionDep,
    page: Annotated[KeysetPage, Depends(keyset_page_params)],
    query: Annotated[TaskListQuery, Query()],
) -> bytes:
    filters = service.TaskFilters(
        project_id=query.project_id,
        status=query.status,
        # Filters combine with AND: assignee=me with another assignee_id matches nothing.
        assignee_ids=frozenset(
            user_id
            for user_id in (
                query.assignee_id,
                principal.user.id if query.assignee == "me" else None,
            )
            if user_id is not None
        ),
        priority=query.priority,
        priority_min=query.priority_min,
        search=query.search,
        due_before=query.due_before,
        due_after=query.due_after,
        label_ids=frozenset(query.label_id),
        parent_id=query.parent_id,
        top_level=query.top_level,
        status_id=query.status_id,
        status_category=None if query.status_category is None else query.status_category.value,
    )
    found = await service.list_tasks(
        session=session, principal=principal, filters=filters, page=page, sort=query.sort
    )
    set_keyset_page_headers(
        request, response, page=page, total=found.total, next_cursor=found.next_cursor
    )
    return tasks_json(found.tasks)


@router.post(
    "/bulk-update",
    response_model=BulkUpdateResult,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Change up to 100 tasks at once, all or nothing",
)
async def bulk_update_tasks(
    body: BulkUpdate, principal: Writer, session: SessionDep
) -> BulkUpdateResult:
    count = await bulk.bulk_update(
        session=session,
        principal=principal,
        task_ids=body.task_ids,
        changes=body.update_data.model_dump(exclude_unset=True),
    )
    return BulkUpdateResult(updated_count=count)


@router.get(
    "/{task_id:int}",
    response_model=TaskRead,
    responses={200: {"headers": ETAG_HEADER_DOC}, **error_responses(401, 403, 404, 422)},
)
@cached_read(reads=ONE_TASK)
async def read_task(
    request: Request, task_id: TaskId, principal: Reader, session: SessionDep, response: Response
) -> TaskRead:
    task = await service.read_task(session=session, principal=principal, task_id=task_id)
    return _read(response, task)


@router.patch(
    "/{task_id:int}",
    response_model=TaskRead,
    responses={200: {"headers": ETAG_HEADER_DOC}, **error_responses(401, 403, 404, 409, 412, 422)},
    summary="Change a task (editors); If-Match guards against lost updates",
)
async def update_task(
    task_id: TaskId,
    body: TaskUpdate,
    principal: Writer,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> TaskRead:
    task = await service.update_task(
        session=session,
        principal=principal,
        task_id=task_id,
        changes=body.model_dump(exclude_unset=True),
        if_match=if_match,
    )
    return _read(response, task)


@router.delete(
    "/{task_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def delete_task(
    principal: Writer, access: LockedTask, session: SessionDep, if_match: IfMatch = None
) -> None:
    await service.delete_task(
        session=session, principal=principal, access=access, if_match=if_match
    )


@router.post(
    "/{task_id:int}/move",
    response_model=TaskRead,
    responses={200: {"headers": ETAG_HEADER_DOC}, **error_responses(401, 403, 404, 409, 422)},
    summary="Move a task on its board (status, before or after a task) or to another project",
)
async def move_task(
    body: TaskMove, principal: Writer, access: LockedTask, session: SessionDep, response: Response
) -> TaskRead:
    task = await moves.move_task(
        session=session,
        principal=principal,
        access=access,
        project_id=body.project_id,
        status_id=body.status_id,
        before_id=body.before_id,
        after_id=body.after_id,
    )
    return _read(response, task)


# --- activity -----------------------------------------------------------------------------


@router.get(
    "/{task_id:int}/activity",
    response_model=list[ActivityRead],
    responses={200: {"headers": PAGE_HEADERS_DOC}, **error_responses(401, 403, 404, 422)},
    summary="What happened to a task, by whom, newest first (anyone who sees it)",
)
async def list_task_activity(
    request: Request,
    response: Response,
    task_id: TaskId,
    principal: Reader,
    session: SessionDep,
    page: Annotated[KeysetPage, Depends(keyset_page_params)],
    query: Annotated[ActivityQuery, Query()],
) -> list[ActivityRead]:
    # Not cached: every write of the task adds to it (see tasks.cache).
    await service.read_task(session=session, principal=principal, task_id=task_id)  # or 404
    found = await activity.list_events(session=session, task_id=task_id, filters=query, page=page)
    set_keyset_page_headers(
        request, response, page=page, total=found.total, next_cursor=found.next_cursor
    )
    return found.events


# The board lies under /projects/{id}: a router of its own for that prefix.
board_router = DomainRouter(prefix="/projects", tags=["tasks"])


@board_router.get(
    "/{project_id:int}/board",
    response_model=BoardRead,
    responses=error_responses(401, 403, 404, 422),
    summary="The project's statuses in order, each with its first tasks and its total",
)
async def read_board(
    project_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    principal: Reader,
    session: SessionDep,
    limit: Annotated[
        int, Query(ge=1, le=board.MAX_BOARD_LIMIT, description="Tasks shown per status")
    ] = board.DEFAULT_BOARD_LIMIT,
) -> BoardRead:
    columns = await board.read_board(
        session=session, principal=principal, project_id=project_id, limit=limit
    )
    return BoardRead(
        project_id=project_id,
        statuses=[
            BoardColumn(
                **StatusRead.model_validate(column.status).model_dump(),
                total=column.total,
                tasks=[TaskRead.model_validate(task) for task in column.tasks],
            )
            for column in columns
        ],
    )
