"""Rate limits with the `limits` library: a moving window, kept in Redis so every worker and
host shares it, or in process memory without Redis (and while Redis is down)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.datastructures import State

from taskflow.config import RATE_LIMIT_OFF, Settings
from taskflow.core.errors import AppError
from taskflow.core.metrics import RATE_LIMITED
from taskflow.core.redis import REDIS_ERRORS, RedisGuard

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
        self.shared: MovingWindowRateLimiter | None = None
        if guard is not None and settings.redis_url is not None:
            storage = RedisStorage(
                f"async+{settings.redis_url}",
                implementation="redispy",
                key_prefix=f"{settings.redis_key_prefix}:ratelimit",
                socket_timeout=settings.redis_timeout_seconds,
                socket_connect_timeout=settings.redis_timeout_seconds,
            )
            self.shared = MovingWindowRateLimiter(storage)

    async def hit(self, name: str, identity: str) -> Quota | None:
        """Count one request; None when this limit is switched off."""
        item = self.limits[name]
        if item is None:
            return None
        if self.shared is not None and self.guard is not None and self.guard.available:
            try:
                return await self._hit(self.shared, item, name, identity)
            except REDIS_ERRORS as error:
                # Per-worker limits while Redis is away are better than none.
                self.guard.failed(error)
        return await self._hit(self.memory, item, name, identity)

    @staticmethod
    async def _hit(
        strategy: MovingWindowRateLimiter, item: RateLimitItem, name: str, identity: str
    ) -> Quota:
        allowed = await strategy.hit(item, name, identity)
        stats = await strategy.get_window_stats(item, name, identity)
        return Quota(
            limit=item.amount, remaining=stats.remaining, reset_at=stats.reset_time, allowed=allowed
        )


async def enforce(limiter: RateLimiter, name: str, identity: str, state: State) -> None:
    """Count the request against the limit, put the X-RateLimit headers on the response
    (whatever it turns out to be), and refuse it with 429 when over the limit."""
    quota = await limiter.hit(name, identity)
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
