"""Project use cases. Visibility lives in one query, `access_subquery`, that every read uses."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    Select,
    Subquery,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from taskflow.activity import service as activity
from taskflow.audit import service as audit
from taskflow.audit.models import AuditEvent
from taskflow.core.cache import touch
from taskflow.core.db import BigIntId, RowLock, lock_rows, locked
from taskflow.core.errors import Conflict, NotFound, UnprocessableEntity
from taskflow.core.etag import check_if_match, flush_versioned
from taskflow.core.pagination import Page, sort_clauses
from taskflow.identity.principal import Principal
from taskflow.projects.models import MemberRole, Project, ProjectMember
from taskflow.projects.policy import ProjectAccess, ProjectNotFound, ProjectRole
from taskflow.projects.queries import participates
from taskflow.statuses.models import DEFAULT_STATUSES, Status
from taskflow.tasks.models import Task
from taskflow.users.models import User, normalise_email

PROJECT_SORT_COLUMNS = {
    "name": Project.name,
    "created_at": Project.created_at,
    "updated_at": Project.updated_at,
}


class MemberNotFound(NotFound):
    detail = "This user is not a member of the project"


class AlreadyMember(Conflict):
    error = "already_member"
    detail = "This user is already the owner or a member of the project"


# The bound parameter the visibility rule reads the caller's user id from.
VIEWER = "viewer_id"


def viewer(principal: Principal) -> dict[str, int]:
    """The parameters every statement built on `access_subquery` is executed with."""
    return {VIEWER: principal.user.id}


def access_subquery(principal: Principal) -> Subquery:
    """(project_id, role) for every project the principal may see: the one visibility rule.

    A user sees the projects it owns and those it is a member of; an administrator sees all.
    Both branches use an index (projects.owner_id, project_members.user_id), and an owner is
    never also a member, so each project appears once.

    The caller's id is a bound parameter, so the statement is built once per kind of caller
    and compiled once; execute what is built on it with `viewer(principal)`. A statement run
    without it fails, it never shows anything.
    """
    return access_subquery_for(admin=principal.is_admin)


@functools.cache
def access_subquery_for(*, admin: bool) -> Subquery:
    """access_subquery for a caller that is (or is not) an administrator."""
    caller = bindparam(VIEWER, type_=BigIntId)
    if admin:
        return select(
            Project.id.label("project_id"),
            case(
                (Project.owner_id == caller, ProjectRole.OWNER.value),
                else_=ProjectRole.ADMIN.value,
            ).label("role"),
        ).subquery("access")
    owned = select(
        Project.id.label("project_id"), literal(ProjectRole.OWNER.value).label("role")
    ).where(Project.owner_id == caller)
    shared = select(ProjectMember.project_id, ProjectMember.role).where(
        ProjectMember.user_id == caller
    )
    return union_all(owned, shared).subquery("access")


def _visible_projects(principal: Principal) -> tuple[Select[Project, str], Subquery]:
    return _visible_projects_for(admin=principal.is_admin)


@functools.cache
def _visible_projects_for(*, admin: bool) -> tuple[Select[Project, str], Subquery]:
    access = access_subquery_for(admin=admin)
    query = (
        select(Project, access.c.role)
        .join(access, access.c.project_id == Project.id)
        .options(joinedload(Project.owner))
    )
    return query, access


_PROJECT_ID = "project_id"


@functools.cache
def _visible_project_by_id(*, admin: bool, lock: RowLock | None) -> Select[Project, str]:
    """Built and compiled once: every project read and write starts with it."""
    query, _ = _visible_projects_for(admin=admin)
    query = query.where(Project.id == bindparam(_PROJECT_ID, type_=BigIntId))
    return query if lock is None else locked(query, Project, lock)


async def get_access(
    *,
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    lock: RowLock | None = None,
) -> ProjectAccess:
    """The project and the caller's role in it; 404 when it does not exist or is not visible.
    With `lock`, the project row stays locked until the transaction ends (PostgreSQL)."""
    query = _visible_project_by_id(admin=principal.is_admin, lock=lock)
    parameters = {**viewer(principal), _PROJECT_ID: project_id}
    if lock is None:
        row = (await session.execute(query, parameters)).first()
    else:
        row = (await lock_rows(session, query, parameters)).first()
    if row is None:
        raise ProjectNotFound()
    project, role = row
    return ProjectAccess(project=project, role=ProjectRole(role))


async def list_projects(
    *,
    session: AsyncSession,
    principal: Principal,
    page: Page,
    my_projects_only: bool = False,
    include_archived: bool = False,
    search: str | None = None,
    sort: str = "-created_at",
) -> tuple[list[ProjectAccess], int]:
    query, access = _visible_projects(principal)
    count = (
        select(func.count()).select_from(Project).join(access, access.c.project_id == Project.id)
    )
    conditions = []
    if my_projects_only:
        conditions.append(Project.owner_id == principal.user.id)
    if not include_archived:
        conditions.append(Project.is_archived.is_(False))
    if search:
        conditions.append(
            or_(
                Project.name.icontains(search, autoescape=True),
                Project.description.icontains(search, autoescape=True),
            )
        )
    query = (
        query.where(*conditions)
        .order_by(*sort_clauses(sort, PROJECT_SORT_COLUMNS, Project.id))
        .offset(page.skip)
        .limit(page.limit)
    )
    rows = (await session.execute(query, viewer(principal))).all()
    total = await session.scalar(count.where(*conditions), viewer(principal))
    return [ProjectAccess(project=p, role=ProjectRole(r)) for p, r in rows], total or 0


async def create_project(
    *, session: AsyncSession, principal: Principal, name: str, description: str | None
) -> ProjectAccess:
    project = Project(name=name, description=description, owner_id=principal.user.id)
    project.owner = principal.user
    session.add(project)
    await session.flush()
    session.add_all(
        Status(project_id=project.id, name=name, category=category.value, position=position)
        for position, (name, category) in enumerate(DEFAULT_STATUSES)
    )
    await session.flush()
    touch(session, users=[principal.user.id])
    await activity.record(
        session,
        type="project.created",
        actor_id=principal.user.id,
        project_id=project.id,
        changes={"name": [None, name]},
    )
    return ProjectAccess(project=project, role=ProjectRole.OWNER)


# The fields of a project a change may set, as its events name them.
_PROJECT_FIELDS = ("name", "description", "is_archived")


def _project_event_type(changes: Mapping[str, Any]) -> str:
    """project.archived or project.unarchived when the change flips it, else updated."""
    if "is_archived" in changes:
        return "project.archived" if changes["is_archived"][1] else "project.unarchived"
    return "project.updated"


async def update_project(
    *,
    session: AsyncSession,
    access: ProjectAccess,
    actor_id: int,
    changes: Mapping[str, Any],
    if_match: str | None,
) -> ProjectAccess:
    """Change the project; what changed is its activity event, in the same transaction."""
    check_if_match(if_match, access.project.version)
    project = access.project
    before = {field: getattr(project, field) for field in _PROJECT_FIELDS}
    for field in _PROJECT_FIELDS:
        if field in changes:
            setattr(project, field, changes[field])
    await flush_versioned(session)
    touch(session, projects=[project.id])
    changed = activity.changes_between(
        before, {field: getattr(project, field) for field in _PROJECT_FIELDS}
    )
    if changed:
        await activity.record(
            session,
            type=_project_event_type(changed),
            actor_id=actor_id,
            project_id=project.id,
            changes=changed,
        )
    return access


async def delete_project(
    *, session: AsyncSession, access: ProjectAccess, actor_id: int, if_match: str | None
) -> None:
    check_if_match(if_match, access.project.version)
    project = access.project
    await session.delete(project)
    await flush_versioned(session)
    touch(session, projects=[project.id])
    await activity.record(
        session,
        type="project.deleted",
        actor_id=actor_id,
        project_id=project.id,
        changes={"name": [project.name, None]},
    )
    audit.record(
        session,
        AuditEvent.PROJECT_DELETED,
        actor_id=actor_id,
        subject_user_id=project.owner_id,
        details={"project_id": project.id, "name": project.name},
    )


# --- members ------------------------------------------------------------------------------


async def list_members(
    *, session: AsyncSession, access: ProjectAccess, page: Page
) -> tuple[list[tuple[User, str, Any]], int]:
    """The owner first, then members by when they were added: (user, role, added_at)."""
    project = access.project
    owner_row = select(
        User.id.label("user_id"),
        literal("owner").label("role"),
        literal(project.created_at, type_=Project.created_at.type).label("added_at"),
        literal(0).label("rank"),
    ).where(User.id == project.owner_id)
    member_rows = select(
        ProjectMember.user_id,
        ProjectMember.role,
        ProjectMember.created_at.label("added_at"),
        literal(1),
    ).where(ProjectMember.project_id == project.id)
    everyone = union_all(owner_row, member_rows).subquery("everyone")
    query = (
        select(User, everyone.c.role, everyone.c.added_at)
        .join(everyone, everyone.c.user_id == User.id)
        .order_by(everyone.c.rank, everyone.c.added_at, User.id)
        .offset(page.skip)
        .limit(page.limit)
    )
    rows = [(user, role, added_at) for user, role, added_at in await session.execute(query)]
    total = await session.scalar(select(func.count()).select_from(everyone))
    return rows, total or 0


async def add_member(
    *, session: AsyncSession, access: ProjectAccess, actor_id: int, email: str, role: MemberRole
) -> ProjectMember:
    found = (
        await session.execute(
            select(User, participates(access.project.id, User.id)).where(
                User.email == normalise_email(email)
            )
        )
    ).first()
    if found is None or not found[0].is_active:
        raise UnprocessableEntity("No active user has this email", loc=("body", "email"))
    user, already = found
    if already:
        raise AlreadyMember()
    member = ProjectMember(project_id=access.project.id, user_id=user.id, role=role.value)
    member.user = user
    session.add(member)
    await session.flush()
    touch(session, projects=[access.project.id], users=[user.id])
    await activity.record(
        session,
        type="member.added",
        actor_id=actor_id,
        project_id=access.project.id,
        changes={"user_id": [None, user.id], "role": [None, role.value]},
    )
    audit.record(
        session,
        AuditEvent.MEMBER_ADDED,
        actor_id=actor_id,
        subject_user_id=user.id,
        details={"project_id": access.project.id, "role": role.value},
    )
    return member


async def _get_member(session: AsyncSession, project_id: int, user_id: int) -> ProjectMember:
    member = await session.scalar(
        select(ProjectMember)
        .where(ProjectMember.project_id == project_id, ProjectMember.user_id == user_id)
        .options(joinedload(ProjectMember.user))
    )
    if member is None:
        raise MemberNotFound()
    return member


async def change_member_role(
    *, session: AsyncSession, access: ProjectAccess, actor_id: int, user_id: int, role: MemberRole
) -> ProjectMember:
    member = await _get_member(session, access.project.id, user_id)
    old_role = member.role
    member.role = role.value
    await session.flush()
    touch(session, projects=[access.project.id])
    if old_role != role.value:
        await activity.record(
            session,
            type="member.role_changed",
            actor_id=actor_id,
            project_id=access.project.id,
            changes={"user_id": [user_id, user_id], "role": [old_role, role.value]},
        )
    return member


async def remove_member(
    *, session: AsyncSession, access: ProjectAccess, actor_id: int, user_id: int
) -> None:
    """Remove a member; tasks of this project assigned to it become unassigned (each with
    its `task.updated` event, after the `member.removed` one)."""
    member = await _get_member(session, access.project.id, user_id)
    await session.delete(member)
    unassigned = await session.scalars(
        update(Task)
        .where(Task.project_id == access.project.id, Task.assignee_id == user_id)
        .values(assignee_id=None, version=Task.version + 1)
        .returning(Task.id)
        .execution_options(synchronize_session=False)
    )
    task_ids = sorted(unassigned)
    await session.flush()
    touch(session, projects=[access.project.id], users=[user_id])
    await activity.record_many(
        session,
        [
            activity.event_row(
                type="member.removed",
                actor_id=actor_id,
                project_id=access.project.id,
                changes={"user_id": [user_id, None], "role": [member.role, None]},
            ),
            *(
                activity.event_row(
                    type="task.updated",
                    actor_id=actor_id,
                    project_id=access.project.id,
                    task_id=task_id,
                    changes={"assignee_id": [user_id, None]},
                )
                for task_id in task_ids
            ),
        ],
    )
    audit.record(
        session,
        AuditEvent.MEMBER_REMOVED,
        actor_id=actor_id,
        subject_user_id=user_id,
        details={"project_id": access.project.id, "role": member.role},
    )
