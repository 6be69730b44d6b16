"""The projects' declarations about the read cache (see core.cache_contract).

A read across every project the caller sees depends on the caller's own counter (bumped
when that set changes) and on the counter of each of those projects; an administrator's on
the counter bumped by every change. A read of one project (or of a task, through its
project) depends on the caller's counter and that project's. A project's activity history
(`list_project_activity`) is not cached: every write adds to it, and it is read rarely.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.core.cache import Cache
from taskflow.core.cache_contract import Counter, DomainCache, invalidates
from taskflow.core.cached_reads import CachedRead, Reading, RouteArguments
from taskflow.identity.principal import Principal
from taskflow.projects.models import Project, ProjectMember
from taskflow.projects.service import access_subquery_for, viewer

# Administrators depend on the counter of every change instead of on each project's.
_VISIBLE_PROJECT_IDS = select(access_subquery_for(admin=False).c.project_id)


def _caller_keys(cache: Cache, principal: Principal) -> list[str]:
    keys = [cache.user_generation(principal.user.id)]
    if principal.is_admin:
        keys.append(cache.everything)
    return keys


async def for_projects(
    cache: Cache, principal: Principal, project_ids: Iterable[int]
) -> Reading | None:
    """Counters of a read of these projects (and their tasks) by this caller."""
    generations = await cache.generations(
        [*_caller_keys(cache, principal), *(cache.project_generation(p) for p in project_ids)]
    )
    return None if generations is None else Reading(generations)


async def for_everything_visible(
    cache: Cache, session: AsyncSession, principal: Principal
) -> Reading | None:
    """Counters of a read across every project the caller sees (lists)."""
    caller = await cache.generations(_caller_keys(cache, principal))
    if caller is None or principal.is_admin:
        return None if caller is None else Reading(caller)
    project_ids = list(await session.scalars(_VISIBLE_PROJECT_IDS, viewer(principal)))
    projects = await cache.generations(cache.project_generation(p) for p in project_ids)
    return None if projects is None else Reading({**caller, **projects})


async def _everything_visible(cache: Cache, arguments: RouteArguments) -> Reading | None:
    return await for_everything_visible(cache, arguments["session"], arguments["principal"])


async def _one_project(cache: Cache, arguments: RouteArguments) -> Reading | None:
    return await for_projects(cache, arguments["principal"], [arguments["project_id"]])


VISIBLE_PROJECTS = CachedRead("projects the caller sees", _everything_visible)
ONE_PROJECT = CachedRead("one project, by project_id", _one_project)


_OWNER = select(Project.id).where(Project.owner_id == bindparam("user_id"))
_MEMBER = select(ProjectMember.project_id).where(ProjectMember.user_id == bindparam("user_id"))


CACHE = DomainCache(
    reads=(VISIBLE_PROJECTS, ONE_PROJECT),
    writes={
        "create_project": invalidates(
            Counter.VISIBLE, why="the owner sees one project more (no one else sees it yet)"
        ),
        "update_project": invalidates(Counter.PROJECT, why="the project and its tasks' view"),
        "delete_project": invalidates(Counter.PROJECT, why="the project and its tasks go"),
        "add_member": invalidates(
            Counter.PROJECT, Counter.VISIBLE, why="the project's members; what the member sees"
        ),
        "change_member_role": invalidates(Counter.PROJECT, why="the member's role in it"),
        "remove_member": invalidates(
            Counter.PROJECT, Counter.VISIBLE, why="the project's members; what the member sees"
        ),
    },
    # Projects show their owner and members (owner and member lists, the member's role).
    naming_user=(_OWNER, _MEMBER),
)
