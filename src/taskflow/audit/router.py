from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from taskflow.audit import service
from taskflow.audit.models import AuditEvent
from taskflow.audit.schemas import AuditEntryRead
from taskflow.auth.dependencies import authorized
from taskflow.auth.principal import Principal, Scope
from taskflow.core.clock import as_utc
from taskflow.core.deps import SessionDep
from taskflow.core.errors import error_responses
from taskflow.core.pagination import PAGE_HEADERS_DOC, Page, page_params, set_page_headers

router = APIRouter(tags=["audit"])
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
async def admin_audit(
    request: Request,
    response: Response,
    principal: Annotated[Principal, authorized(Scope.USERS_READ, admin_only=True)],
    session: SessionDep,
    page: Annotated[Page, Depends(page_params)],
    user_id: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Entries by or about this user")
    ] = None,
    event: AuditEvent | None = None,
    since: Annotated[datetime | None, Query(description="At or after (UTC if no offset)")] = None,
    until: Annotated[datetime | None, Query(description="Before (UTC if no offset)")] = None,
) -> list[AuditEntryRead]:
    filters = service.AuditFilters(
        user_id=user_id,
        event=event,
        since=as_utc(since) if since else None,
        until=as_utc(until) if until else None,
    )
    return await _page_of(request, response, session, filters, page)


@router.get(
    "/users/me/audit",
    response_model=list[AuditEntryRead],
    responses=LIST_RESPONSES,
    summary="The caller's own security events, newest first",
)
async def my_audit(
    request: Request,
    response: Response,
    principal: Annotated[Principal, authorized(Scope.USERS_READ)],
    session: SessionDep,
    page: Annotated[Page, Depends(page_params)],
) -> list[AuditEntryRead]:
    filters = service.AuditFilters(user_id=principal.user.id)
    return await _page_of(request, response, session, filters, page)
