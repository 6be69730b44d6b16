"""Which generation counters a cached read of projects or tasks depends on.

A read across every project the caller sees depends on the caller's own counter (bumped
when that set changes) and on the counter of each of those projects; an administrator's
on the counter bumped by every change. The counters are read before the data, so the
answer cached with them can only be older than they say, never newer.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.core.cache import Cache
from taskflow.identity.principal import Principal
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
) -> dict[str, str] | None:
    """Counters of a read of these projects (and their tasks) by this caller."""
    return await cache.generations(
        [*_caller_keys(cache, principal), *(cache.project_generation(p) for p in project_ids)]
    )


async def for_everything_visible(
    cache: Cache, session: AsyncSession, principal: Principal
) -> dict[str, str] | None:
    """Counters of a read across every project the caller sees (lists)."""
    caller = await cache.generations(_caller_keys(cache, principal))
    if caller is None or principal.is_admin:
        return caller
    project_ids = list(await session.scalars(_VISIBLE_PROJECT_IDS, viewer(principal)))
    projects = await cache.generations(cache.project_generation(p) for p in project_ids)
    return None if projects is None else {**caller, **projects}
