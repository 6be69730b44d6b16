"""Who may do what with a comment, by the caller's role in the task's project.

Viewers read only. Owners, administrators and editors comment; a comment is edited by its
author alone, and deleted by its author, the project's owner or an administrator. Nothing
of an archived project's conversation changes (409 project_archived)."""

from __future__ import annotations

from taskflow.core.errors import Forbidden
from taskflow.projects.policy import (
    ProjectArchived,
    ProjectRole,
    may_manage,
    may_write_tasks,
)


class NotTheAuthor(Forbidden):
    detail = "Only the author of a comment may edit it"


class MayNotDelete(Forbidden):
    detail = "Only the author, the project owner or an administrator may delete a comment"


class ViewersReadOnly(Forbidden):
    detail = "Viewers cannot comment on the tasks of this project"


def ensure_can_comment(role: ProjectRole, *, archived: bool) -> None:
    """Owners, administrators and editors comment while the project is not archived."""
    if not may_write_tasks(role):
        raise ViewersReadOnly()
    if archived:
        raise ProjectArchived()


def ensure_can_edit(role: ProjectRole, *, is_author: bool, archived: bool) -> None:
    """The author edits, while it may still comment there (not demoted to viewer)."""
    if not is_author:
        raise NotTheAuthor()
    ensure_can_comment(role, archived=archived)


def ensure_can_delete(role: ProjectRole, *, is_author: bool, archived: bool) -> None:
    """The project's owner or an administrator deletes any comment; the author its own,
    while it may still comment there."""
    if may_manage(role):
        if archived:
            raise ProjectArchived()
        return
    if not is_author:
        raise MayNotDelete()
    ensure_can_comment(role, archived=archived)
