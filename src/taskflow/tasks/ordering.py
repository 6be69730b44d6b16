"""Where a task goes on its project's board: which status and which rank key.

A task sits in one status of its project and sorts among that status's tasks by its rank
key (statuses.ranks); `is_completed` follows the status's category (true exactly in a done
status). Placing a task reads the status and its neighbours' keys and makes a key between
them: no other task is rewritten, except when two neighbours share one key (placed at the
same moment), where the status's keys are spread again first.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from taskflow.core import clock
from taskflow.core.db import BigIntId
from taskflow.core.errors import Conflict, UnprocessableEntity
from taskflow.statuses import ranks
from taskflow.statuses.models import Status, StatusCategory
from taskflow.tasks.models import Task

_PROJECT = bindparam("project_id", type_=BigIntId)
_STATUS = bindparam("status_id", type_=BigIntId)
_DONE = StatusCategory.DONE.value


@dataclass(frozen=True, slots=True)
class Placement:
    """A status of the task's project and the rank key the task gets in it."""

    status_id: int
    status_name: str
    status_category: str
    position: str

    @property
    def done(self) -> bool:
        return self.status_category == _DONE

    def columns(self) -> dict[str, Any]:
        """The view's columns (queries.VIEW_COLUMNS names) it sets."""
        return {
            "status_id": self.status_id,
            "status_name": self.status_name,
            "status_category": self.status_category,
            "position": self.position,
        }


def _status_with_last_key(*conditions: Any, order: tuple[Any, ...] = ()) -> Select[Any]:
    """The first status of project `project_id` that matches, with its last rank key."""
    last = select(func.max(Task.position)).where(Task.status_id == Status.id).scalar_subquery()
    return (
        select(Status.id, Status.name, Status.category, last.label("last_key"))
        .where(Status.project_id == _PROJECT, *conditions)
        .order_by(*order, Status.position, Status.id)
        .limit(1)
    )


# Kinds of status a task may be sent to: a given one, or the first of a kind (a category
# names the first status of that category).
GIVEN, NOT_DONE, DONE, TODO = "given", "not_done", "done", "todo"
_STATEMENTS = {
    StatusCategory.IN_PROGRESS.value: _status_with_last_key(
        Status.category == StatusCategory.IN_PROGRESS.value
    ),
    GIVEN: _status_with_last_key(Status.id == _STATUS),
    NOT_DONE: _status_with_last_key(Status.category != _DONE),
    DONE: _status_with_last_key(Status.category == _DONE),
    # The first todo status; without one, the first that is not done.
    TODO: _status_with_last_key(
        Status.category != _DONE,
        order=(case((Status.category == StatusCategory.TODO.value, 0), else_=1),),
    ),
}


def status_refused(*loc: str) -> UnprocessableEntity:
    return UnprocessableEntity("The status must be a status of the task's project", loc=loc)


async def at_end(
    connection: AsyncConnection, *, project_id: int, kind: str, status_id: int | None = None
) -> Placement | None:
    """The end of a status of the project: `status_id` (kind GIVEN) or the first of `kind`.
    None when the project has no such status."""
    parameters: dict[str, Any] = {"project_id": project_id}
    if kind == GIVEN:
        parameters["status_id"] = status_id
    row = (await connection.execute(_STATEMENTS[kind], parameters)).first()
    if row is None:
        return None
    return Placement(row.id, row.name, row.category, ranks.between(row.last_key, None))


def completion(placement: Placement, *, was_completed: bool) -> dict[str, Any]:
    """is_completed and completed_at of a task entering the placement's status: stamped on
    entering a done status, kept while done, cleared on leaving it."""
    if not placement.done:
        return {"is_completed": False, "completed_at": None}
    if was_completed:
        return {"is_completed": True}
    return {"is_completed": True, "completed_at": clock.now()}


# --- between two tasks ------------------------------------------------------------------

_MOVING = bindparam("moving_id", type_=BigIntId)
_NEIGHBOUR = bindparam("neighbour_id", type_=BigIntId)
_KEY = bindparam("key", type_=Task.position.type)
NEIGHBOUR = select(Task.status_id, Task.position).where(Task.id == _NEIGHBOUR)


@functools.cache
def _adjacent(*, before: bool) -> Select[Any]:
    """The key of the task right before (or after) task `neighbour_id`, whose key is `key`,
    in status `status_id`, the moving task left out."""
    order: tuple[Any, ...]
    if before:
        side = or_(Task.position < _KEY, and_(Task.position == _KEY, Task.id < _NEIGHBOUR))
        order = (Task.position.desc(), Task.id.desc())
    else:
        side = or_(Task.position > _KEY, and_(Task.position == _KEY, Task.id > _NEIGHBOUR))
        order = (Task.position, Task.id)
    return (
        select(Task.position)
        .where(Task.status_id == _STATUS, Task.id != _MOVING, side)
        .order_by(*order)
        .limit(1)
    )


_IN_ORDER = (
    select(Task.id)
    .where(Task.status_id == _STATUS, Task.id != _MOVING)
    .order_by(Task.position, Task.id)
)
_SET_KEY = (
    update(Task)
    .where(Task.id == bindparam("b_id", type_=BigIntId))
    .values(position=bindparam("b_position"), version=Task.version + 1)
)


class NotANeighbour(Conflict):
    detail = "before_id and after_id must name another task of the target status"


async def next_to(
    connection: AsyncConnection,
    *,
    status: Placement,
    moving_id: int,
    before_id: int | None,
    after_id: int | None,
) -> Placement:
    """The placement in `status` right before task `before_id` or right after `after_id`
    (409 unless it is another task of that status)."""
    neighbour_id = before_id if before_id is not None else after_id
    if neighbour_id is None:
        return status
    for _ in range(2):
        neighbour = (await connection.execute(NEIGHBOUR, {"neighbour_id": neighbour_id})).first()
        if (
            neighbour is None
            or neighbour.status_id != status.status_id
            or neighbour_id == moving_id
        ):
            raise NotANeighbour()
        parameters = {
            "status_id": status.status_id,
            "moving_id": moving_id,
            "neighbour_id": neighbour_id,
            "key": neighbour.position,
        }
        other = await connection.scalar(_adjacent(before=before_id is not None), parameters)
        low, high = (
            (other, neighbour.position) if before_id is not None else (neighbour.position, other)
        )
        try:
            key = ranks.between(low, high)
        except ranks.NoRoomBetween:
            await _spread(connection, status.status_id, moving_id)
            continue
        return Placement(status.status_id, status.status_name, status.status_category, key)
    raise Conflict("The board changed meanwhile; try again")


async def _spread(connection: AsyncConnection, status_id: int, moving_id: int) -> None:
    """Give the status's tasks (but the moving one) fresh, distinct keys in their order."""
    parameters = {"status_id": status_id, "moving_id": moving_id}
    ids = list(await connection.scalars(_IN_ORDER, parameters))
    keys = ranks.after_all(None, len(ids))
    await connection.execute(
        _SET_KEY, [{"b_id": i, "b_position": k} for i, k in zip(ids, keys, strict=True)]
    )
