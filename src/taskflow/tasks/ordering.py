"""Where a task goes on its project's board: which status and which rank key.

A task sits in one status of its project and sorts among that status's tasks by its rank
key (statuses.ranks); `is_completed` follows the status's category (true exactly in a done
status). Placing a task reads the status and its neighbours' keys and makes a key between
them: no other task is rewritten, except when two neighbours share one key (placed at the
same moment), where the status's keys are spread again first.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, and_, bindparam, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
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


class _HasCategory(Protocol):
    @property
    def category(self) -> str: ...


_S = TypeVar("_S", bound=_HasCategory)


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


@dataclass(frozen=True, slots=True)
class Kind:
    """Which status of a project a task goes to when none is named: the first, in board
    order, of those whose category is one of `categories`, one of `preferred` first."""

    categories: tuple[str, ...]
    preferred: str | None = None

    def first_of(self, statuses: Iterable[_S]) -> _S | None:
        """The status of this kind among a project's statuses, given in board order."""
        fitting = (status for status in statuses if status.category in self.categories)
        # min keeps the first of equals: board order among the preferred, then the rest.
        return min(fitting, key=lambda status: status.category != self.preferred, default=None)

    def first_id(self, statuses: Iterable[Any]) -> int:
        """first_of's id, among all the statuses of a project (which has one of every kind:
        a done one and one that is not, statuses.service keeps it so)."""
        status = self.first_of(statuses)
        assert status is not None, "every project keeps a done and a not done status"  # noqa: S101
        return int(status.id)


_NOT_DONE = (StatusCategory.TODO.value, StatusCategory.IN_PROGRESS.value)
NOT_DONE = Kind(_NOT_DONE)  # where a new task goes
DONE = Kind((_DONE,))  # where completing a task sends it
TODO = Kind(_NOT_DONE, preferred=StatusCategory.TODO.value)  # where reopening sends it


def same_category(category: str) -> Kind:
    """Where a task moved to another project goes: the first status of its category there,
    else the first not done (every project keeps a done one)."""
    return DONE if category == _DONE else Kind(_NOT_DONE, preferred=category)


def _status_with_last_key(*conditions: Any, order: tuple[Any, ...] = ()) -> Select[Any]:
    """The first status of project `project_id` that matches, with its last rank key."""
    last = select(func.max(Task.position)).where(Task.status_id == Status.id).scalar_subquery()
    return (
        select(Status.id, Status.name, Status.category, last.label("last_key"))
        .where(Status.project_id == _PROJECT, *conditions)
        .order_by(*order, Status.position, Status.id)
        .limit(1)
    )


_GIVEN = _status_with_last_key(Status.id == _STATUS)


@functools.cache
def _first_of_kind(kind: Kind) -> Select[Any]:
    """Kind.first_of as SQL. One comparison per category, bound like any value (IN would be
    expanded at every execution)."""
    order = (
        () if kind.preferred is None else (case((Status.category == kind.preferred, 0), else_=1),)
    )
    return _status_with_last_key(
        or_(*(Status.category == category for category in kind.categories)), order=order
    )


def status_refused(*loc: str) -> UnprocessableEntity:
    return UnprocessableEntity("The status must be a status of the task's project", loc=loc)


async def at_end(
    connection: AsyncConnection,
    *,
    project_id: int,
    kind: Kind = NOT_DONE,
    status_id: int | None = None,
) -> Placement | None:
    """The end of a status of the project: `status_id` when given, else the first of
    `kind`. None when the project has no such status."""
    parameters: dict[str, Any] = {"project_id": project_id}
    statement = _first_of_kind(kind)
    if status_id is not None:
        parameters["status_id"] = status_id
        statement = _GIVEN
    row = (await connection.execute(statement, parameters)).first()
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


# --- many tasks at the end of their statuses ---------------------------------------------

# The statuses of these projects, each project's in board order.
_STATUSES_OF = (
    select(Status.id, Status.project_id, Status.category)
    .where(Status.project_id.in_(bindparam("project_ids", expanding=True)))
    .order_by(Status.project_id, Status.position, Status.id)
)
_LAST_KEYS = (
    select(Task.status_id, func.max(Task.position))
    .where(Task.status_id.in_(bindparam("status_ids", expanding=True)))
    .group_by(Task.status_id)
)
_SET_PLACE = (
    update(Task)
    .where(Task.id == bindparam("b_id", type_=BigIntId))
    .values(status_id=bindparam("b_status_id", type_=BigIntId), position=bindparam("b_position"))
)


async def statuses_of(
    connection: AsyncConnection, project_ids: Collection[int]
) -> dict[int, list[Any]]:
    """The statuses (id, project_id, category) of each of these projects, in board order."""
    rows = await connection.execute(_STATUSES_OF, {"project_ids": sorted(project_ids)})
    found: dict[int, list[Any]] = {project_id: [] for project_id in project_ids}
    for row in rows:
        found[row.project_id].append(row)
    return found


async def first_status_ids(
    connection: AsyncConnection, project_ids: Collection[int], kind: Kind
) -> dict[int, int]:
    """The id of the first status of `kind` of each of these projects, in one statement."""
    statuses = await statuses_of(connection, project_ids)
    return {project_id: kind.first_id(of_project) for project_id, of_project in statuses.items()}


async def place_at_end(connection: AsyncConnection, targets: Sequence[tuple[int, int]]) -> None:
    """Send each task of (task_id, status_id) to the end of that status, in the order given:
    one read of the statuses' last keys, one statement for every task. 409 when a status
    was deleted since it was read."""
    if not targets:
        return
    status_ids = sorted({status_id for _, status_id in targets})
    rows = await connection.execute(_LAST_KEYS, {"status_ids": status_ids})
    last: dict[int, str] = {row[0]: row[1] for row in rows}
    keys = {
        status_id: iter(
            ranks.after_all(last.get(status_id), sum(1 for _, s in targets if s == status_id))
        )
        for status_id in status_ids
    }
    placed = [
        {"b_id": task_id, "b_status_id": status_id, "b_position": next(keys[status_id])}
        for task_id, status_id in targets
    ]
    try:
        await connection.execute(_SET_PLACE, placed)
    except IntegrityError as error:
        raise Conflict("The board changed meanwhile; send the change again") from error


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
