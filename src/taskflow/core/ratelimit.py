"""Rate limits: a moving window, kept in Redis so every worker and host shares it, or in
process memory without Redis (and while Redis is down).

Limits are parsed, and kept in memory, by the `limits` library. In Redis the window is a
sorted set of request times, counted by one Lua script that also reports what the
X-RateLimit headers need: one round trip per request (the library's moving window takes
two), and the script can run inside another (`MOVING_WINDOW_LUA`), so an authenticated GET
counts its request in the round trip that fetches the caller's identity.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis
from starlette.datastructures import State

from taskflow.config import RATE_LIMIT_OFF, Settings
from taskflow.core.errors import AppError
from taskflow.core.metrics import RATE_LIMITED
from taskflow.core.redis import RedisGuard

log = structlog.get_logger("taskflow.ratelimit")

LIMIT_HEADER = "X-RateLimit-Limit"
REMAINING_HEADER = "X-RateLimit-Remaining"
RESET_HEADER = "X-RateLimit-Reset"
RATE_LIMIT_HEADERS = (LIMIT_HEADER, REMAINING_HEADER, RESET_HEADER, "Retry-After")


class RateLimited(AppError):
    status_code = 429
    error = "rate_limited"
    detail = "Too many requests"


@dataclass(frozen=True, slots=True)
class Quota:
    """Where a caller stands against one limit after this request."""

    limit: int
    remaining: int
    reset_at: float  # when the oldest counted request leaves the window (epoch seconds)
    allowed: bool

    def headers(self) -> dict[str, str]:
        return {
            LIMIT_HEADER: str(self.limit),
            REMAINING_HEADER: str(self.remaining),
            RESET_HEADER: str(math.ceil(self.reset_at)),
        }

    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))


def _limit(value: str) -> RateLimitItem | None:
    return None if value.lower() in RATE_LIMIT_OFF else parse(value)


# moving_window_hit(key, limit, seconds, now, member) -> {allowed, remaining, reset_at}.
# The window is a sorted set of request times; a request is counted (and allowed) while
# fewer than `limit` lie within the last `seconds`. reset_at (when the oldest counted request
# leaves the window) is a string: Redis would cut a Lua number to an integer.
MOVING_WINDOW_LUA = """
local function moving_window_hit(key, limit, seconds, now, member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (now - seconds))
  local count = redis.call('ZCARD', key)
  local allowed = 0
  if count < limit then
    redis.call('ZADD', key, now, member)
    count = count + 1
    allowed = 1
  end
  redis.call('EXPIRE', key, math.ceil(seconds))
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  local reset_at = now + seconds
  if oldest[2] then
    reset_at = tonumber(oldest[2]) + seconds
  end
  return {allowed, limit - count, tostring(reset_at)}
end
"""
_HIT_SCRIPT = (
    MOVING_WINDOW_LUA + "return moving_window_hit(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),"
    " tonumber(ARGV[3]), ARGV[4])"
)


@dataclass(frozen=True, slots=True)
class WindowHit:
    """One request to count against a moving window kept in Redis."""

    key: str
    limit: int
    seconds: int

    def arguments(self) -> list[Any]:
        """ARGV for moving_window_hit after the key: limit, seconds, now, a unique member."""
        now = time.time()
        return [self.limit, self.seconds, repr(now), f"{now!r}:{uuid.uuid4().hex[:12]}"]

    def quota(self, reply: list[Any]) -> Quota:
        allowed, remaining, reset_at = reply
        return Quota(
            limit=self.limit,
            remaining=int(remaining),
            reset_at=float(reset_at),
            allowed=bool(allowed),
        )


class RateLimiter:
    """Named limits ("login", "register", "password_reset", "default") per identity."""

    def __init__(self, settings: Settings, guard: RedisGuard | None) -> None:
        self.limits = {
            "login": _limit(settings.rate_limit_login),
            "register": _limit(settings.rate_limit_register),
            "password_reset": _limit(settings.rate_limit_password_reset),
            "default": _limit(settings.rate_limit_default),
        }
        self.guard = guard
        self.memory = MovingWindowRateLimiter(MemoryStorage())
        self.key_prefix = f"{settings.redis_key_prefix}:ratelimit"
        self._hit_script = guard.redis.register_script(_HIT_SCRIPT) if guard is not None else None

    def shared_hit(self, name: str, identity: str) -> WindowHit | None:
        """The hit to count in Redis, or None when the limit is off or Redis is resting after
        a failure (then `hit` counts in memory)."""
        item = self.limits[name]
        if item is None or self.guard is None or not self.guard.available:
            return None
        return WindowHit(
            key=f"{self.key_prefix}:{name}:{identity}",
            limit=item.amount,
            seconds=item.get_expiry(),
        )

    async def hit(self, name: str, identity: str) -> Quota | None:
        """Count one request; None when this limit is switched off."""
        shared = self.shared_hit(name, identity)
        guard, script = self.guard, self._hit_script
        if shared is not None and guard is not None and script is not None:

            async def run(redis: Redis) -> Quota | None:
                reply = await script(keys=[shared.key], args=shared.arguments(), client=redis)
                return shared.quota(reply)

            # While Redis fails, per-worker limits are better than none.
            quota = await guard.call(run, None)
            if quota is not None:
                return quota
        return await self._hit_in_memory(name, identity)

    async def _hit_in_memory(self, name: str, identity: str) -> Quota | None:
        item = self.limits[name]
        if item is None:
            return None
        allowed = await self.memory.hit(item, name, identity)
        stats = await self.memory.get_window_stats(item, name, identity)
        return Quota(
            limit=item.amount, remaining=stats.remaining, reset_at=stats.reset_time, allowed=allowed
        )


async def enforce(limiter: RateLimiter, name: str, identity: str, state: State) -> None:
    """Count the request against the limit, then `apply_quota`."""
    apply_quota(await limiter.hit(name, identity), name, state)


def apply_quota(quota: Quota | None, name: str, state: State) -> None:
    """Put the X-RateLimit headers on the response (whatever it turns out to be), and refuse
    the request with 429 when it is over the limit."""
    if quota is None:
        return
    headers = quota.headers()
    response_headers: dict[str, str] = getattr(state, "response_headers", None) or {}
    response_headers.update(headers)
    state.response_headers = response_headers
    if not quota.allowed:
        RATE_LIMITED.labels(limit=name).inc()
        retry_after = quota.retry_after()
        raise RateLimited(
            f"Too many requests; retry in {retry_after} seconds",
            headers={**headers, "Retry-After": str(retry_after)},
        )
