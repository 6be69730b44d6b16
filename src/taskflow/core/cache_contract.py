"""What each domain declares about the read cache, collected in one contract.

Every domain has one module (e.g. projects/cache.py) with one `DomainCache`:

- `reads`: its cached reads (core.cached_reads.CachedRead), named by the routes that serve
  them with `@cached_read(reads=...)`.
- `writes`: for each of its write routes, by route function name (the OpenAPI operation
  id), the counters the write bumps (`Invalidates`), or `NOTHING_CACHED`. The services bump
  them with core.cache.touch; tests/integration/test_cache_contract.py checks, for every
  write route of the app, that a declaration exists, that the write bumps nothing else,
  and that every cached read shows its change at once.
- `naming_user`: where its cached answers show a user's name or email: a statement
  selecting the ids of the projects whose cached reads name the user (bound parameter
  `user_id`). A change of name or email retires all of them (`touch_naming_user`).

taskflow/domains.py lists the domains; the app installs their contract on its cache, where
services reach it through their session.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Executable, Select, union
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.core.cache import Cache, touch
from taskflow.core.cached_reads import CachedRead
from taskflow.core.db import SESSION_CACHE_KEY


class Counter(enum.StrEnum):
    """The generation counters a write can bump (see core.cache.Cache)."""

    PROJECT = "project"  # a project, its members or its tasks
    VISIBLE = "user"  # which projects a user sees
    AUTH = "auth"  # a user's cached principal: the account, its role, its API keys


@dataclass(frozen=True, slots=True)
class Invalidates:
    """The counters one write route may bump; none for a write that changes nothing cached."""

    counters: frozenset[Counter]
    why: str

    @property
    def nothing(self) -> bool:
        return not self.counters


def invalidates(*counters: Counter, why: str) -> Invalidates:
    return Invalidates(frozenset(counters), why)


def nothing_cached(why: str) -> Invalidates:
    return Invalidates(frozenset(), why)


# Selects the ids of the projects whose cached reads show the user bound as `user_id`.
NamingUser = Select[int]


@dataclass(frozen=True, slots=True)
class DomainCache:
    """One domain's declarations; see the module."""

    reads: tuple[CachedRead, ...] = ()
    writes: Mapping[str, Invalidates] = field(default_factory=dict)
    naming_user: tuple[NamingUser, ...] = ()


@dataclass(frozen=True, slots=True)
class CacheContract:
    """Every domain's declarations together."""

    reads: tuple[CachedRead, ...]
    writes: Mapping[str, Invalidates]
    # One statement: the projects whose cached reads show the user `user_id` (None: none).
    projects_naming_user: Executable | None

    @classmethod
    def collect(cls, domains: Iterable[DomainCache]) -> CacheContract:
        reads: list[CachedRead] = []
        writes: dict[str, Invalidates] = {}
        naming: list[NamingUser] = []
        for domain in domains:
            reads.extend(domain.reads)
            for operation, declared in domain.writes.items():
                if operation in writes:
                    raise ValueError(f"two cache declarations for the write {operation}")
                writes[operation] = declared
            naming.extend(domain.naming_user)
        return cls(tuple(reads), writes, _union(naming))


def _union(statements: list[Select[int]]) -> Executable | None:
    if len(statements) < 2:
        return statements[0] if statements else None
    return union(*statements)


EMPTY = CacheContract((), {}, None)


def install(cache: Cache, contract: CacheContract) -> None:
    """Make the contract reachable by services through their session's cache."""
    cache.contract = contract


async def touch_naming_user(session: AsyncSession, user_id: int) -> None:
    """Retire, with this transaction, every cached read that shows the user's name or email."""
    cache: Cache | None = session.info.get(SESSION_CACHE_KEY)
    if cache is None:
        return  # no cache: nothing to retire, and no query to run
    statement = (cache.contract or EMPTY).projects_naming_user
    if statement is None:
        return
    project_ids = list(await session.scalars(statement, {"user_id": user_id}))
    touch(session, projects=project_ids)
