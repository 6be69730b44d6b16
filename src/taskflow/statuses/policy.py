"""Who may change a project's statuses: whoever may change its tasks (owner, editors,
administrators), and only while the project is not archived."""

from __future__ import annotations

from taskflow.core.errors import Forbidden
from taskflow.projects.policy import ProjectAccess, ProjectArchived, may_write_tasks


def ensure_can_manage_statuses(access: ProjectAccess) -> None:
    if not may_write_tasks(access.role):
        raise Forbidden("Viewers cannot change the statuses of this project")
    if access.project.is_archived:
        raise ProjectArchived("The project is archived; unarchive it before changing its statuses")
