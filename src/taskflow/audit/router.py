from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from taskflow.audit import service
from taskflow.audit.models import AuditEvent
from taskflow.audit.schemas import AuditEntryRead
from taskflow.core.deps import DomainRouter, SessionDep
from taskflow.core.errors import error_responses
from taskflow.core.pagination import PAGE_HEADERS_DOC, Page, page_params, set_page_headers
from taskflow.core.types import MAX_ID, Timestamp
from taskflow.identity.dependencies import authorized
from taskflow.identity.principal import Principal, Scope

router = DomainRouter(tags=["audit"])
LIST_RESPONSES = {200: {"headers": PAGE_HEADERS_DOC}, **error_responses(401, 403, 422)}


async def _page_of(
    request: Request,
    response: Response,
    session: SessionDep,
    filters: service.AuditFilters,
    page: Page,
) -> list[AuditEntryRead]:
    entries, total = await service.list_entries(session=session, filters=filters, page=page)
    set_page_headers(request, response, page=page, total=total)
    return [AuditEntryRead.model_validate(entry) for entry in entries]


@router.get(
    "/admin/audit",
    response_model=list[AuditEntryRead],
    responses=LIST_RESPONSES,
    summary="The security audit log, newest first (admins)",
)
async def list_audit_events(
    request: Request,
    response: Response,
    principal: Annotated[Principal, authorized(Scope.USERS_READ, admin_only=True)],
    session: SessionDep,
    page: Annotated[Page, Depends(page_params)],
    user_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Entries by or about this user")
    ] = None,
    event: AuditEvent | None = None,
    since: Annotated[Timestamp | None, Query(description="At or after")] = None,
    until: Annotated[Timestamp | None, Query(description="Before")] = None,
) -> list[AuditEntryRead]:
    filters = service.AuditFilters(
        user_id=user_id,
        event=event,
        since=since,
        until=until,
    )
    return await _page_of(request, response, session, filters, page)


@router.get(
    "/users/me/audit",
    response_model=list[AuditEntryRead],
    responses=LIST_RESPONSES,
    summary="The caller's own security events, newest first",
)
async def list_my_audit_events(
    request: Request,
    response: Response,
    principal: Annotated[Principal, authorized(Scope.USERS_READ)],
    session: SessionDep,
    page: Annotated[Page, Depends(page_params)],
) -> list[AuditEntryRead]:
    filters = service.AuditFilters(user_id=principal.user.id)
    return await _page_of(request, response, session, filters, page)
