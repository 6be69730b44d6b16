"""Read cache in Redis, invalidated by generation counters rather than by finding keys.

Every cached entry records the generation counters it was built from, e.g.
`{"tf:gen:user:7": "3", "tf:gen:project:12": "9", ...}`. A write bumps (INCR) the counters
of what it changed after its transaction commits: the project's counter for anything in a
project, the user's counter when the set of projects the user sees changes, the user's
"auth" counter when the user (its role, active flag, profile) or its API keys change. A read
takes an entry only if every counter it recorded still has the same value, checked inside
Redis by one Lua script, so a hit is one round trip and a bump never has to look for keys.

Counters are read before the database is, so a write that commits while an entry is being
built leaves that entry stale on arrival, never wrongly fresh. If a bump cannot reach Redis,
the process bumps the global epoch, on which every entry depends, as soon as Redis answers
again.

This module is the store and the invalidation; core.cached_reads serves cached answers to
routes, and core.cache_contract collects what each domain declares about both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.core.db import SESSION_CACHE_KEY, after_commit, after_rollback
from taskflow.core.metrics import CACHE_HITS, CACHE_MISSES
from taskflow.core.ratelimit import MOVING_WINDOW_LUA, Quota, WindowHit
from taskflow.core.redis import RedisGuard

if TYPE_CHECKING:
    from taskflow.core.cache_contract import CacheContract

log = structlog.get_logger("taskflow.cache")

GENERATION_TTL_SECONDS = 7 * 24 * 3600
_TOUCHED_KEY = "taskflow.cache.touched"

# fresh_values(keys, first): for each of keys[first..], the stored value if every generation
# it recorded is current, else false.
_FRESH_VALUES_LUA = """
local function fresh_values(keys, first)
  local out = {}
  for i = first, #keys do
    local raw = redis.call('GET', keys[i])
    local value = false
    if raw then
      local entry = cjson.decode(raw)
      value = entry['v']
      for gen_key, expected in pairs(entry['d']) do
        if (redis.call('GET', gen_key) or '0') ~= expected then
          value = false
          break
        end
      end
    end
    out[i - first + 1] = value
  end
  return out
end
"""
_FETCH_FRESH = _FRESH_VALUES_LUA + "return fresh_values(KEYS, 1)"
# KEYS[1] is a rate limit's window, ARGV its moving_window_hit arguments; the rest are fetched.
_COUNT_AND_FETCH = (
    _FRESH_VALUES_LUA
    + MOVING_WINDOW_LUA
    + "return {moving_window_hit(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),"
    " tonumber(ARGV[3]), ARGV[4]), fresh_values(KEYS, 2)}"
)


# Bump every counter in KEYS, each kept for ARGV[1] seconds from now: one round trip.
_BUMP = """
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[1])
end
return #KEYS
"""


def _decoded(values: list[Any]) -> list[str | None]:
    return [value.decode() if isinstance(value, bytes) else value for value in values]


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class Cache:
    def __init__(
        self, guard: RedisGuard, *, ttl_seconds: int, prefix: str, reads: bool = True
    ) -> None:
        self.guard = guard
        # False: answers of GET routes are not cached (callers' identities still are).
        self.reads = reads
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix
        # What the domains declare about cached reads (core.cache_contract.CacheContract),
        # installed by the app: services reach it through their session.
        self.contract: CacheContract | None = None
        self.epoch = self.key("gen", "epoch")
        # Bumped by every change: what an administrator's reads depend on.
        self.everything = self.key("gen", "all")
        self._fetch_script = guard.redis.register_script(_FETCH_FRESH)
        self._count_and_fetch_script = guard.redis.register_script(_COUNT_AND_FETCH)
        self._bump_script = guard.redis.register_script(_BUMP)

    def key(self, *parts: object) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    def user_generation(self, user_id: int) -> str:
        """Bumped when the set of projects the user sees changes."""
        return self.key("gen", "user", user_id)

    def auth_generation(self, user_id: int) -> str:
        """Bumped when the user, its role, its active flag or its API keys change."""
        return self.key("gen", "auth", user_id)

    def project_generation(self, project_id: int) -> str:
        """Bumped when the project, its members or its tasks change."""
        return self.key("gen", "project", project_id)

    async def fetch(self, keys: Sequence[str]) -> list[str | None]:
        """The fresh value of each key, or None (also for every key while Redis is down)."""

        async def run(redis: Redis) -> list[str | None]:
            return _decoded(await self._fetch_script(keys=list(keys), client=redis))

        return await self.guard.call(run, [None] * len(keys))

    async def count_and_fetch(
        self, hit: WindowHit, keys: Sequence[str]
    ) -> tuple[Quota | None, list[str | None]]:
        """Count a request against a rate limit and fetch `keys`, in one round trip.

        While Redis is down: no quota (count it elsewhere) and None for every key.
        """

        async def run(redis: Redis) -> tuple[Quota | None, list[str | None]]:
            counted, values = await self._count_and_fetch_script(
                keys=[hit.key, *keys], args=hit.arguments(), client=redis
            )
            return hit.quota(counted), _decoded(values)

        return await self.guard.call(run, (None, [None] * len(keys)))

    async def generations(self, keys: Iterable[str]) -> dict[str, str] | None:
        """Current values of generation counters (0 if never bumped); None if Redis is down."""
        wanted = sorted({*keys, self.epoch})

        async def run(redis: Redis) -> dict[str, str] | None:
            values = await redis.mget(wanted)
            return {
                key: value.decode() if isinstance(value, bytes) else (value or "0")
                for key, value in zip(wanted, values, strict=True)
            }

        return await self.guard.call(run, None)

    async def store(self, key: str, value: str, generations: Mapping[str, str]) -> None:
        entry = json.dumps({"d": dict(generations), "v": value}, separators=(",", ":"))

        async def run(redis: Redis) -> None:
            await redis.set(key, entry, ex=self.ttl_seconds)

        await self.guard.call(run, None)

    async def bump(self, keys: Iterable[str]) -> None:
        counters = sorted(set(keys))

        async def run(redis: Redis) -> bool:
            # A script rather than a pipeline: the same one round trip, for less client work.
            await self._bump_script(keys=counters, args=[GENERATION_TTL_SECONDS], client=redis)
            return True

        if not await self.guard.call(run, False):
            # Entries may now hide this write: retire them all once Redis is back.
            self.guard.on_recovery(self._bump_epoch)

    async def _bump_epoch(self) -> None:
        await self.guard.redis.incr(self.epoch)
        log.info("cache_epoch_bumped", reason="writes during a Redis outage")


def record_hit(hit: bool) -> None:
    (CACHE_HITS if hit else CACHE_MISSES).inc()


# --- invalidation from services -----------------------------------------------------------


@dataclass
class _Touched:
    keys: set[str] = field(default_factory=set)


def touch(
    session: AsyncSession,
    *,
    projects: Iterable[int] = (),
    users: Iterable[int] = (),
    auth: Iterable[int] = (),
) -> None:
    """Mark cached reads that this transaction changes; they are retired after it commits."""
    cache: Cache | None = session.info.get(SESSION_CACHE_KEY)
    if cache is None:
        return
    touched: _Touched | None = session.info.get(_TOUCHED_KEY)
    if touched is None:
        touched = session.info[_TOUCHED_KEY] = _Touched()

        async def bump_after_commit() -> None:
            pending = session.info.pop(_TOUCHED_KEY, None)
            if pending is not None and pending.keys:
                await cache.bump(pending.keys)

        async def forget() -> None:
            session.info.pop(_TOUCHED_KEY, None)

        after_commit(session, bump_after_commit)
        after_rollback(session, forget)
    touched.keys.add(cache.everything)
    touched.keys.update(cache.project_generation(p) for p in projects)
    touched.keys.update(cache.user_generation(u) for u in users)
    touched.keys.update(cache.auth_generation(u) for u in auth)
