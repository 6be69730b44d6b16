"""Who belongs to a project, as SQL conditions other statements embed: the projects domain
knows its people, the tasks domain asks it whom a task may be assigned to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import aliased

from taskflow.projects.models import Project, ProjectMember
from taskflow.users.models import User

# Aliases of their own, so the conditions never correlate with the same tables in the
# statement that embeds them (a list of projects, an INSERT that reads its project).
_OWNED = aliased(Project, name="owned_project")
_MEMBERSHIP = aliased(ProjectMember, name="membership")
_CANDIDATE = aliased(User, name="candidate")


def participates(project_id: Any, user_id: Any) -> ColumnElement[bool]:
    """SQL: the user owns the project or is one of its members (an owner is never also a
    member). Both are columns or bound parameters of the embedding statement."""
    return or_(
        exists(select(1).where(_OWNED.id == project_id, _OWNED.owner_id == user_id)),
        exists(
            select(1).where(_MEMBERSHIP.project_id == project_id, _MEMBERSHIP.user_id == user_id)
        ),
    )


def assignable(project_id: Any, user_id: Any) -> ColumnElement[bool]:
    """SQL: the user may be assigned a task in the project, the one rule every task write
    checks: the user is active and owns the project or is one of its members."""
    # Side by side, not nested: a subquery correlates only with the statement right around
    # it, so each one must sit where `project_id` and `user_id` come from.
    return and_(
        exists(select(1).where(_CANDIDATE.id == user_id, _CANDIDATE.is_active.is_(True))),
        participates(project_id, user_id),
    )
