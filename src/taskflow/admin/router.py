from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel

from taskflow.admin import service
from taskflow.core.deps import DomainRouter, SessionDep
from taskflow.core.errors import error_responses
from taskflow.identity.dependencies import authorized
from taskflow.identity.principal import Principal, Scope

router = DomainRouter(prefix="/admin", tags=["admin"])


class Stats(BaseModel):
    users_total: int
    users_active: int
    users_by_role: dict[str, int]
    projects_total: int
    tasks_total: int
    tasks_overdue: int


@router.get(
    "/stats",
    response_model=Stats,
    responses=error_responses(401, 403),
    summary="Counts across the whole service (admins)",
)
async def read_stats(
    principal: Annotated[Principal, authorized(Scope.USERS_READ, admin_only=True)],
    session: SessionDep,
) -> Stats:
    return Stats(**await service.stats(session=session))
