"""The shared Redis client, and a guard that keeps a slow or dead Redis from hurting requests.

Every call has a short timeout (REDIS_TIMEOUT_SECONDS, 50 ms by default). When one fails,
the guard stops using Redis for REDIS_RETRY_SECONDS, so requests fall back at once instead of
each waiting out a timeout, and it logs one warning per outage and one line when Redis is
back, never one per request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskflow.config import Settings

log = structlog.get_logger("taskflow.redis")
T = TypeVar("T")

# What a failing or unreachable Redis raises through redis-py.
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)


def create_redis(settings: Settings) -> Redis | None:
    if settings.redis_url is None:
        return None
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=30,
    )


class RedisGuard:
    def __init__(self, redis: Redis, *, retry_seconds: float) -> None:
        self.redis = redis
        self.retry_seconds = retry_seconds
        self._down_until = 0.0
        self._outage_started: float | None = None
        self._on_recovery: list[Callable[[], Awaitable[None]]] = []

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def on_recovery(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` once Redis answers again, before any other call goes through."""
        if hook not in self._on_recovery:
            self._on_recovery.append(hook)

    async def call(self, operation: Callable[[Redis], Awaitable[T]], fallback: T) -> T:
        """operation(redis), or `fallback` while Redis fails or is resting after a failure."""
        if not self.available:
            return fallback
        try:
            # Work owed from the outage (e.g. retiring cache entries) goes before anything else.
            while self._on_recovery:
                await self._on_recovery[0]()
                self._on_recovery.pop(0)
            result = await operation(self.redis)
        except REDIS_ERRORS as error:
            self.failed(error)
            return fallback
        if self._outage_started is not None:
            outage = time.monotonic() - self._outage_started
            self._outage_started = None
            log.info("redis_recovered", outage_seconds=round(outage, 3))
        return result

    def failed(self, error: BaseException) -> None:
        self._down_until = time.monotonic() + self.retry_seconds
        if self._outage_started is None:
            self._outage_started = time.monotonic()
            log.warning("redis_unavailable", error=type(error).__name__, detail=str(error)[:200])
