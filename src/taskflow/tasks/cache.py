"""The tasks' declarations about the read cache (see core.cache_contract).

A task's cached answers depend on its project's counter: every write to a task bumps the
counter of the project it is in (both projects for a move). A task's activity history
(`list_task_activity`) is not cached: every write adds to it, and it is read rarely.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from taskflow.core.cache import Cache
from taskflow.core.cache_contract import Counter, DomainCache, invalidates
from taskflow.core.cached_reads import CachedRead, Reading, RouteArguments
from taskflow.projects.cache import for_everything_visible, for_projects
from taskflow.tasks import service
from taskflow.tasks.models import Task

# They change with the clock, not only with writes.
_CLOCK_STATUSES = frozenset({"pending", "overdue"})


async def _everything_visible(cache: Cache, arguments: RouteArguments) -> Reading | None:
    return await for_everything_visible(cache, arguments["session"], arguments["principal"])


def _not_by_the_clock(arguments: RouteArguments) -> bool:
    return arguments["query"].status not in _CLOCK_STATUSES


async def _one_task(cache: Cache, arguments: RouteArguments) -> Reading | None:
    """The counters of the task's project, read before the task itself; an answer showing
    the task in another project (it moved in between) is not stored with them."""
    project_id = await service.project_of_task(
        session=arguments["session"], task_id=arguments["task_id"]
    )
    if project_id is None:
        return None
    reading = await for_projects(cache, arguments["principal"], [project_id])
    if reading is None:
        return None

    def same_project(task: Any) -> bool:
        return bool(task.project.id == project_id)

    return Reading(reading.generations, keeps=same_project)


VISIBLE_TASKS = CachedRead(
    "tasks of the projects the caller sees", _everything_visible, cacheable=_not_by_the_clock
)
ONE_TASK = CachedRead("one task, through its project", _one_task)


_ASSIGNEE = select(Task.project_id).where(Task.assignee_id == bindparam("user_id"))
_CREATOR = select(Task.project_id).where(Task.created_by_id == bindparam("user_id"))


_THE_PROJECTS = "the tasks' projects"
CACHE = DomainCache(
    reads=(VISIBLE_TASKS, ONE_TASK),
    writes={
        "create_task": invalidates(Counter.PROJECT, why=_THE_PROJECTS),
        "bulk_update_tasks": invalidates(Counter.PROJECT, why=_THE_PROJECTS),
        "update_task": invalidates(Counter.PROJECT, why=_THE_PROJECTS),
        "delete_task": invalidates(Counter.PROJECT, why=_THE_PROJECTS),
        "move_task": invalidates(Counter.PROJECT, why="the source and the target project"),
    },
    # Tasks show their assignee and their creator.
    naming_user=(_ASSIGNEE, _CREATOR),
)
