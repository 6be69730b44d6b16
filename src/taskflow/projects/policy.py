"""Who may do what in a project, by the caller's role in it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from taskflow.core.errors import Conflict, Forbidden, NotFound
from taskflow.identity.principal import Principal
from taskflow.projects.models import Project


class ProjectRole(StrEnum):
    """The caller's effective role: `admin` is an administrator on a project it does not own."""

    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


_MAY_WRITE_TASKS = frozenset({ProjectRole.OWNER, ProjectRole.ADMIN, ProjectRole.EDITOR})
_MAY_MANAGE = frozenset({ProjectRole.OWNER, ProjectRole.ADMIN})


@dataclass(frozen=True, slots=True)
class ProjectAccess:
    project: Project
    role: ProjectRole


class ProjectNotFound(NotFound):
    detail = "Project not found"


class ProjectArchived(Conflict):
    error = "project_archived"
    detail = "The project is archived; unarchive it before changing its tasks"


def may_write_tasks(role: ProjectRole) -> bool:
    return role in _MAY_WRITE_TASKS


def may_manage(role: ProjectRole) -> bool:
    return role in _MAY_MANAGE


def ensure_can_write_tasks(access: ProjectAccess) -> None:
    ensure_role_can_write_tasks(access.role, archived=access.project.is_archived)


def ensure_role_can_write_tasks(role: ProjectRole, *, archived: bool) -> None:
    """Editors, owners and admins change tasks, and only while the project is not archived."""
    if not may_write_tasks(role):
        raise Forbidden("Viewers cannot change the tasks of this project")
    if archived:
        raise ProjectArchived()


def ensure_can_manage(access: ProjectAccess) -> None:
    if not may_manage(access.role):
        raise Forbidden("Only the project owner or an administrator may do this")


def ensure_can_remove_member(access: ProjectAccess, principal: Principal, user_id: int) -> None:
    """Managers remove anyone; a member may remove itself (leave the project)."""
    if principal.user.id != user_id:
        ensure_can_manage(access)
