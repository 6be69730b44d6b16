"""Load a project the caller may see (404 otherwise), with the caller's role in it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from taskflow.core.db import RowLock
from taskflow.core.deps import SessionDep
from taskflow.core.types import MAX_ID
from taskflow.identity.dependencies import get_principal
from taskflow.identity.principal import Principal
from taskflow.projects import service
from taskflow.projects.policy import ProjectAccess

ProjectId = Annotated[int, Path(ge=1, le=MAX_ID)]


async def project_access(
    project_id: ProjectId,
    principal: Annotated[Principal, Depends(get_principal)],
    session: SessionDep,
) -> ProjectAccess:
    return await service.get_access(session=session, principal=principal, project_id=project_id)


async def project_access_for_update(
    project_id: ProjectId,
    principal: Annotated[Principal, Depends(get_principal)],
    session: SessionDep,
) -> ProjectAccess:
    """As project_access, with the row locked until the request commits (PostgreSQL)."""
    return await service.get_access(
        session=session, principal=principal, project_id=project_id, lock=RowLock.UPDATE
    )


async def project_access_for_members(
    project_id: ProjectId,
    principal: Annotated[Principal, Depends(get_principal)],
    session: SessionDep,
) -> ProjectAccess:
    """As project_access, locked against other member changes and a delete of the project
    until the request commits (PostgreSQL), while its tasks may still be written."""
    return await service.get_access(
        session=session, principal=principal, project_id=project_id, lock=RowLock.NO_KEY_UPDATE
    )


ReadableProject = Annotated[ProjectAccess, Depends(project_access)]
LockedProject = Annotated[ProjectAccess, Depends(project_access_for_update)]
ProjectForMembers = Annotated[ProjectAccess, Depends(project_access_for_members)]
