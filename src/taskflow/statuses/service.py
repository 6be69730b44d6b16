"""Status use cases: list, create, change (rename, recategorise, reorder, recolour) and
delete a project's statuses. Every write locks the project first (its row on PostgreSQL,
the database's write lock on SQLite), so the writes to one project's statuses run one after
another: positions stay 0..n-1 and a project never loses its last done or not-done status.

A status's version (its ETag) moves on with every change of its row, a new position given
by another status's move included; If-Match is compared with it under the project's lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.activity import service as activity
from taskflow.core import clock
from taskflow.core.cache import touch
from taskflow.core.db import RowLock, lock_rows
from taskflow.core.errors import Conflict, NotFound, UnprocessableEntity
from taskflow.core.etag import check_if_match
from taskflow.identity.principal import Principal
from taskflow.projects import service as projects_service
from taskflow.projects.policy import ProjectAccess
from taskflow.statuses import queries
from taskflow.statuses.models import Status
from taskflow.statuses.policy import ensure_can_manage_statuses
from taskflow.statuses.queries import PROJECT_ID, STATUS_ID, is_done
from taskflow.statuses.ranks import after_all

# What a status shows in an event's changes.
_FIELDS = ("name", "category", "position", "color")


class StatusNotFound(NotFound):
    detail = "Status not found"


class StatusInUse(Conflict):
    error = "status_in_use"
    detail = "The status holds tasks: name another status of the project in move_to"


class StatusRequired(Conflict):
    error = "status_required"
    detail = "A project must keep at least one done status and one that is not done"


class DuplicateStatusName(Conflict):
    detail = "The project already has a status of this name"


async def list_statuses(
    *, session: AsyncSession, principal: Principal, project_id: int
) -> list[Status]:
    """The statuses of a project the caller sees, in board order; 404 when unseen."""
    await projects_service.get_access(session=session, principal=principal, project_id=project_id)
    return list(await session.scalars(queries.PROJECT_STATUSES, {PROJECT_ID: project_id}))


async def _statuses_to_change(
    session: AsyncSession, principal: Principal, project_id: int
) -> tuple[ProjectAccess, list[Status]]:
    """The project (locked until the request commits) and its statuses in order; 404 when
    unseen, 403 for a viewer, 409 when archived."""
    access = await projects_service.get_access(
        session=session, principal=principal, project_id=project_id, lock=RowLock.NO_KEY_UPDATE
    )
    ensure_can_manage_statuses(access)
    statuses = list(await session.scalars(queries.PROJECT_STATUSES, {PROJECT_ID: project_id}))
    return access, statuses


def _find(statuses: Sequence[Status], status_id: int) -> Status:
    for status in statuses:
        if status.id == status_id:
            return status
    raise StatusNotFound()


def _ensure_name_free(statuses: Sequence[Status], name: str, *, but: Status | None = None) -> None:
    folded = name.lower()
    if any(s.name.lower() == folded for s in statuses if s is not but):
        raise DuplicateStatusName()


async def _flush_names(session: AsyncSession) -> None:
    """Flush; should the database fold a name differently than Python (its unique index
    on lower(name) decides), a clash is still 409, not a server error."""
    try:
        await session.flush()
    except IntegrityError as error:
        raise DuplicateStatusName() from error


def _ensure_both_kinds(categories: Sequence[str]) -> None:
    """409 unless the categories include done and something that is not done."""
    done = [is_done(category) for category in categories]
    if not (any(done) and not all(done)):
        raise StatusRequired()


def _renumber(ordered: Sequence[Status]) -> None:
    """Give the statuses the positions 0..n-1 in this order (only those that change)."""
    for position, status in enumerate(ordered):
        if status.position != position:
            status.position = position


def _versions_follow(session: AsyncSession, statuses: Sequence[Status]) -> None:
    """One more version for each of these (stored) statuses whose row the next flush
    changes, its position included: the version is written by the same UPDATE. A value
    set to what it was is no change."""
    for status in statuses:
        if session.is_modified(status):
            status.version += 1


def _shown(status: Status) -> dict[str, Any]:
    return {field: getattr(status, field) for field in _FIELDS}


async def create_status(
    *,
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    name: str,
    category: str,
    color: str | None,
    position: int | None,
) -> Status:
    """Add a status at `position` (None or past the end: last); 409 on a duplicate name."""
    _, statuses = await _statuses_to_change(session, principal, project_id)
    _ensure_name_free(statuses, name)
    place = len(statuses) if position is None else min(position, len(statuses))
    # Written at its place at once (version 1); the statuses after it move one down.
    status = Status(
        project_id=project_id, name=name, category=category, color=color, position=place
    )
    session.add(status)
    _renumber([*statuses[:place], status, *statuses[place:]])
    _versions_follow(session, statuses)
    await _flush_names(session)
    await activity.record(
        session,
        type="status.created",
        actor_id=principal.user.id,
        project_id=project_id,
        changes=activity.changes_between({}, {"id": status.id, **_shown(status)}),
    )
    touch(session, projects=[project_id])
    return status


async def update_status(
    *,
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    status_id: int,
    changes: Mapping[str, Any],
    if_match: str | None,
) -> Status:
    """Rename, recategorise, recolour or move a status (the others are renumbered; each
    status whose row changes gets a new version, a change to nothing keeps it). When its
    category changes between done and not done, its tasks' completion follows. 412 when
    If-Match names another version."""
    _, statuses = await _statuses_to_change(session, principal, project_id)
    status = _find(statuses, status_id)
    check_if_match(if_match, status.version)
    before = _shown(status)
    if "name" in changes:
        _ensure_name_free(statuses, changes["name"], but=status)
        status.name = changes["name"]
    if "category" in changes:
        category = str(changes["category"])
        _ensure_both_kinds([category if s is status else s.category for s in statuses])
        status.category = category
    if "color" in changes:
        status.color = changes["color"]
    if "position" in changes:
        others = [s for s in statuses if s is not status]
        place = min(int(changes["position"]), len(others))
        _renumber([*others[:place], status, *others[place:]])
    _versions_follow(session, statuses)
    await _flush_names(session)
    if "category" in changes and is_done(before["category"]) != is_done(status.category):
        await session.execute(
            queries.tasks_follow_category(done=is_done(status.category)),
            {STATUS_ID: status.id, "now": clock.now()},
        )
    event = activity.changes_between(before, _shown(status))
    if event:
        await activity.record(
            session,
            type="status.updated",
            actor_id=principal.user.id,
            project_id=project_id,
            changes={"id": [status.id, status.id], **event},
        )
    touch(session, projects=[project_id])
    return status


async def delete_status(
    *,
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    status_id: int,
    move_to: int | None,
    if_match: str | None,
) -> None:
    """Delete a status; its tasks go to the end of `move_to` (a status of the same project),
    which is required when it holds any (409 status_in_use). The statuses after it move one
    up (a new version each). 412 when If-Match names another version."""
    _, statuses = await _statuses_to_change(session, principal, project_id)
    status = _find(statuses, status_id)
    check_if_match(if_match, status.version)
    remaining = [s for s in statuses if s is not status]
    _ensure_both_kinds([s.category for s in remaining])
    target: Status | None = None
    if move_to is not None:
        target = next((s for s in remaining if s.id == move_to), None)
        if target is None:
            raise UnprocessableEntity(
                "move_to must be another status of the project", loc=("query", "move_to")
            )
    # Locked first: a task being written into it meanwhile (its foreign key check holds the
    # row) is waited for and moved too; one written after it waits and finds it gone.
    await lock_rows(session, queries.LOCK_STATUS, {STATUS_ID: status.id})
    task_ids = list(await session.scalars(queries.TASK_IDS_IN_ORDER, {STATUS_ID: status.id}))
    if task_ids:
        if target is None:
            raise StatusInUse()
        await _move_tasks(session, task_ids, source=status, target=target)
    await session.delete(status)
    _renumber(remaining)
    _versions_follow(session, remaining)
    await session.flush()
    await activity.record(
        session,
        type="status.deleted",
        actor_id=principal.user.id,
        project_id=project_id,
        changes={
            "id": [status.id, None],
            "name": [status.name, None],
            **({"moved_to": [None, target.id]} if target is not None else {}),
        },
    )
    touch(session, projects=[project_id])


async def _move_tasks(
    session: AsyncSession, task_ids: Sequence[int], *, source: Status, target: Status
) -> None:
    """Move these tasks (in this order) after the last task of `target`; their completion
    follows the target's category."""
    if is_done(source.category) != is_done(target.category):
        await session.execute(
            queries.tasks_follow_category(done=is_done(target.category)),
            {STATUS_ID: source.id, "now": clock.now()},
        )
    last = await session.scalar(queries.LAST_KEY, {STATUS_ID: target.id})
    keys = after_all(last, len(task_ids))
    connection = await session.connection()
    await connection.execute(
        queries.MOVE_TASK_TO_STATUS,
        [
            {"b_id": task_id, "b_status_id": target.id, "b_position": key}
            for task_id, key in zip(task_ids, keys, strict=True)
        ],
    )
