"""Load the project a label route names, as the caller sees it (404 otherwise)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from taskflow.core.db import RowLock
from taskflow.core.deps import SessionDep
from taskflow.core.types import MAX_ID
from taskflow.identity.dependencies import get_principal
from taskflow.identity.principal import Principal
from taskflow.projects import service as projects_service
from taskflow.projects.policy import ProjectAccess

ProjectId = Annotated[int, Path(ge=1, le=MAX_ID)]
LabelId = Annotated[int, Path(ge=1, le=MAX_ID)]


async def project_to_read(
    project_id: ProjectId,
    principal: Annotated[Principal, Depends(get_principal)],
    session: SessionDep,
) -> ProjectAccess:
    return await projects_service.get_access(
        session=session, principal=principal, project_id=project_id
    )


async def project_to_label(
    project_id: ProjectId,
    principal: Annotated[Principal, Depends(get_principal)],
    session: SessionDep,
) -> ProjectAccess:
    """The project, locked against an archive or a delete (not against task writes or other
    label writes) until the request commits."""
    return await projects_service.get_access(
        session=session, principal=principal, project_id=project_id, lock=RowLock.SHARE
    )


ReadableProject = Annotated[ProjectAccess, Depends(project_to_read)]
ProjectToLabel = Annotated[ProjectAccess, Depends(project_to_label)]
