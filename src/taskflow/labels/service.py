"""Label use cases: a project's labels (owner and editors manage them, whoever sees the
project reads them), and the labels tasks carry (asked by the tasks domain).

A label's version (its ETag) moves on with every change; a change or a delete locks the
label's row and compares If-Match with the version it finds there."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from taskflow.activity.service import changes_between, record
from taskflow.core.cache import touch
from taskflow.core.db import lock_rows
from taskflow.core.errors import Conflict, NotFound, UnprocessableEntity
from taskflow.core.etag import check_if_match
from taskflow.labels import queries
from taskflow.labels.models import Label
from taskflow.projects.policy import ProjectAccess, ensure_can_write_tasks

LabelRef = dict[str, Any]  # {"id", "name", "color"}: a label as a task shows it


class LabelNotFound(NotFound):
    detail = "Label not found"


class DuplicateLabel(Conflict):
    detail = "The project already has a label with this name"


def _fields(label: Label) -> dict[str, Any]:
    return {"name": label.name, "color": label.color}


async def list_labels(*, session: AsyncSession, access: ProjectAccess) -> list[Label]:
    """The project's labels, by name."""
    return list(await session.scalars(queries.LABELS_OF_PROJECT, {"project_id": access.project.id}))


async def _ensure_name_free(
    session: AsyncSession, project_id: int, name: str, label_id: int = 0
) -> None:
    parameters = {"project_id": project_id, "name": name, "label_id": label_id}
    if await session.scalar(queries.SAME_NAME, parameters) is not None:
        raise DuplicateLabel()


async def _flush_unique(session: AsyncSession) -> None:
    """Flush in a savepoint: a name taken meanwhile by another request is 409, not 500."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as error:
        raise DuplicateLabel() from error


async def create_label(
    *, session: AsyncSession, access: ProjectAccess, actor_id: int, name: str, color: str
) -> Label:
    """Create a label in the project (owner, admin, editors; not in an archived project)."""
    ensure_can_write_tasks(access)
    project_id = access.project.id
    await _ensure_name_free(session, project_id, name)
    label = Label(project_id=project_id, name=name, color=color)
    session.add(label)
    await _flush_unique(session)
    touch(session, projects=[project_id])
    await record(
        session,
        type="label.created",
        actor_id=actor_id,
        project_id=project_id,
        changes={"label_id": label.id, **_fields(label)},
    )
    return label


async def get_label(*, session: AsyncSession, access: ProjectAccess, label_id: int) -> Label:
    """A label of the project; 404 when it has none of this id."""
    label = await session.scalar(
        queries.LABEL_OF_PROJECT, {"project_id": access.project.id, "label_id": label_id}
    )
    if label is None:
        raise LabelNotFound()
    return label


async def _label_to_write(
    session: AsyncSession,
    access: ProjectAccess,
    label_id: int,
    lock: Select[Label],
    if_match: str | None,
) -> Label:
    """The label, locked by `lock` until the request commits; 404 when the project has none
    of this id, 412 when If-Match names another version than the locked row's."""
    parameters = {"project_id": access.project.id, "label_id": label_id}
    label: Label | None = (await lock_rows(session, lock, parameters)).scalar_one_or_none()
    if label is None:
        raise LabelNotFound()
    check_if_match(if_match, label.version)
    return label


async def update_label(
    *,
    session: AsyncSession,
    access: ProjectAccess,
    actor_id: int,
    label_id: int,
    changes: Mapping[str, Any],
    if_match: str | None,
) -> Label:
    """Rename or recolour a label; the tasks carrying it show it changed. A change gets a
    new version, sending what it has keeps it; 412 when If-Match names another version."""
    ensure_can_write_tasks(access)
    label = await _label_to_write(session, access, label_id, queries.LABEL_TO_CHANGE, if_match)
    before = _fields(label)
    if "name" in changes and changes["name"].lower() != label.name.lower():
        await _ensure_name_free(session, label.project_id, changes["name"], label.id)
    for field in ("name", "color"):
        if field in changes:
            setattr(label, field, changes[field])
    changed = changes_between(before, _fields(label))
    if changed:
        label.version += 1
    await _flush_unique(session)
    if changed:
        touch(session, projects=[label.project_id])
        await record(
            session,
            type="label.updated",
            actor_id=actor_id,
            project_id=label.project_id,
            changes={"label_id": label.id, **changed},
        )
    return label


async def delete_label(
    *,
    session: AsyncSession,
    access: ProjectAccess,
    actor_id: int,
    label_id: int,
    if_match: str | None,
) -> None:
    """Delete a label; the tasks carrying it lose it. 412 when If-Match is stale."""
    ensure_can_write_tasks(access)
    label = await _label_to_write(session, access, label_id, queries.LABEL_TO_DELETE, if_match)
    await session.delete(label)
    await session.flush()
    touch(session, projects=[label.project_id])
    await record(
        session,
        type="label.deleted",
        actor_id=actor_id,
        project_id=label.project_id,
        changes={"label_id": label.id, **_fields(label)},
    )


# --- the labels tasks carry (the tasks domain asks) ----------------------------------------


def _refused(loc: Sequence[str], missing: set[int]) -> UnprocessableEntity:
    listed = ", ".join(str(label_id) for label_id in sorted(missing))
    return UnprocessableEntity(f"Not labels of the task's project: {listed}", loc=tuple(loc))


async def labels_in_project(
    connection: AsyncConnection,
    *,
    project_id: int,
    label_ids: Sequence[int],
    loc: Sequence[str] = ("body", "label_ids"),
) -> list[LabelRef]:
    """The labels (by name) of these ids; 422 at `loc` when one is not the project's."""
    wanted = set(label_ids)
    if not wanted:
        return []
    parameters = {"project_id": project_id, "label_ids": sorted(wanted)}
    rows = (await connection.execute(queries.LABELS_AMONG, parameters)).all()
    missing = wanted - {row.id for row in rows}
    if missing:
        raise _refused(loc, missing)
    return by_name([{"id": row.id, "name": row.name, "color": row.color} for row in rows])


_COLOR_LENGTH = 7


def by_name(labels: list[LabelRef]) -> list[LabelRef]:
    """Labels in the order tasks show them: by name, case-insensitively, then by id."""
    return sorted(labels, key=lambda label: (label["name"].casefold(), label["name"], label["id"]))


def decode_labels(code: str | None) -> list[LabelRef]:
    """The labels of a `queries.carried_labels_code` string, by name."""
    if not code:  # most tasks carry none
        return []
    labels: list[LabelRef] = []
    position = 0
    while position < len(code):
        id_end = code.index(":", position)
        length_end = code.index(":", id_end + 1)
        length = int(code[id_end + 1 : length_end])
        color_end = length_end + 1 + _COLOR_LENGTH
        labels.append(
            {
                "id": int(code[position:id_end]),
                "name": code[color_end : color_end + length],
                "color": code[length_end + 1 : color_end],
            }
        )
        position = color_end + length + 1  # past the ","
    return by_name(labels)


async def labels_of_task(connection: AsyncConnection, task_id: int) -> list[LabelRef]:
    """The labels the task carries, by name."""
    return decode_labels(await connection.scalar(queries.LABELS_OF_TASK, {"task_id": task_id}))


async def replace_task_labels(
    connection: AsyncConnection, *, task_id: int, label_ids: Sequence[int]
) -> None:
    """The task carries exactly these labels (checked by labels_in_project before)."""
    await connection.execute(queries.UNLABEL_TASKS, {"task_ids": [task_id]})
    await _label(connection, [(task_id, label_id) for label_id in sorted(set(label_ids))])


async def _label(connection: AsyncConnection, pairs: Sequence[tuple[int, int]]) -> None:
    if pairs:
        await connection.execute(
            queries.LABEL_TASK, [{"task_id": task, "label_id": label} for task, label in pairs]
        )


async def ensure_labels_of_every_project(
    connection: AsyncConnection,
    *,
    project_ids: Sequence[int],
    label_ids: Sequence[int],
    loc: Sequence[str],
) -> None:
    """422 at `loc` unless every label is a label of every one of these projects (a bulk
    change of tasks in several projects can only name labels all of them have)."""
    for project_id in sorted(set(project_ids)):
        await labels_in_project(connection, project_id=project_id, label_ids=label_ids, loc=loc)


async def add_and_remove_labels(
    connection: AsyncConnection,
    *,
    task_ids: Sequence[int],
    add: Sequence[int],
    remove: Sequence[int],
) -> None:
    """Every task carries the labels of `add` and none of `remove` (a label in both ends
    up removed)."""
    tasks = sorted(set(task_ids))
    if add:
        wanted = sorted(set(add))
        parameters = {"task_ids": tasks, "label_ids": wanted}
        rows = await connection.execute(queries.EXISTING_PAIRS, parameters)
        existing = {(int(task), int(label)) for task, label in rows}
        await _label(
            connection,
            [(task, label) for task in tasks for label in wanted if (task, label) not in existing],
        )
    if remove:
        parameters = {"task_ids": tasks, "label_ids": sorted(set(remove))}
        await connection.execute(queries.UNLABEL_TASKS_OF, parameters)


async def carry_labels(
    connection: AsyncConnection, *, task_ids: Sequence[int], project_id: int
) -> None:
    """Tasks moved to the project: each carries the project's labels named as those it
    carried (case-insensitively), and no other."""
    parameters = {"task_ids": sorted(set(task_ids)), "project_id": project_id}
    carried = [tuple(row) for row in await connection.execute(queries.CARRIED_LABELS, parameters)]
    await connection.execute(queries.UNLABEL_TASKS, {"task_ids": parameters["task_ids"]})
    await _label(connection, sorted({(int(task), int(label)) for task, label in carried}))
