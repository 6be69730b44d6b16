"""The shared Redis client, and a guard that keeps a slow or dead Redis from hurting requests.

Every call has a timeout (REDIS_TIMEOUT_SECONDS, 250 ms by default). A call that fails falls
back at once. Redis is marked down, and left alone for REDIS_RETRY_SECONDS so that requests
fall back without waiting, when it refuses or drops the connection (a real outage, at the
first failure) or after REDIS_FAILURE_THRESHOLD timeouts in a row (a stall; one slow answer
on a busy machine is not an outage). Each outage logs one warning, counts once in
taskflow_redis_outages_total, and logs one line when Redis is back, never one per request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from taskflow.config import Settings
from taskflow.core.metrics import REDIS_OUTAGES

log = structlog.get_logger("taskflow.redis")
T = TypeVar("T")

# What a failing or unreachable Redis raises through redis-py.
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)
# A call that took too long: Redis may only be slow for a moment, or this process busy.
SLOW_ERRORS: tuple[type[BaseException], ...] = (RedisTimeoutError, TimeoutError)


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
    def __init__(
        self,
        redis: Redis,
        *,
        retry_seconds: float,
        failure_threshold: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.clock = clock
        self.retry_seconds = retry_seconds
        self.failure_threshold = failure_threshold
        self._down_until = 0.0
        self._timeouts_in_a_row = 0
        self._outage_started: float | None = None
        self._on_recovery: list[Callable[[], Awaitable[None]]] = []

    @property
    def in_outage(self) -> bool:
        """Marked down and not yet answering again (it may be due for a retry)."""
        return self._outage_started is not None

    @property
    def available(self) -> bool:
        return self.clock() >= self._down_until

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
        self._timeouts_in_a_row = 0
        if self._outage_started is not None:
            outage = self.clock() - self._outage_started
            self._outage_started = None
            log.info("redis_recovered", outage_seconds=round(outage, 3))
        return result

    def failed(self, error: BaseException) -> None:
        """Count a failed call; mark Redis down when it is refused or dropped, when it keeps
        timing out, or when it fails again during an outage."""
        if isinstance(error, SLOW_ERRORS) and self._outage_started is None:
            self._timeouts_in_a_row += 1
            if self._timeouts_in_a_row < self.failure_threshold:
                return
        self._timeouts_in_a_row = 0
        self._down_until = self.clock() + self.retry_seconds
        if self._outage_started is None:
            self._outage_started = self.clock()
            REDIS_OUTAGES.inc()
            log.warning("redis_unavailable", error=type(error).__name__, detail=str(error)[:200])
