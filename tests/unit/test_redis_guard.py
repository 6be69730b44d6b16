"""When the Redis guard marks Redis down: at once for a refused connection, only after
several timeouts in a row for a slow answer, and once per outage in the metric."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from taskflow.core.metrics import REGISTRY
from taskflow.core.redis import RedisGuard


def outages() -> float:
    return REGISTRY.get_sample_value("taskflow_redis_outages_total") or 0.0


@pytest.fixture
async def guard() -> AsyncIterator[RedisGuard]:
    # Never connected: each operation below answers or fails by itself.
    redis = Redis.from_url("redis://127.0.0.1:1/0")
    yield RedisGuard(redis, retry_seconds=60, failure_threshold=3)
    await redis.aclose()


def failing(error: Exception) -> Callable[[Redis], Awaitable[str]]:
    async def operation(_redis: Redis) -> str:
        raise error

    return operation


async def answering(_redis: Redis) -> str:
    return "answer"


async def test_timeouts_below_the_threshold_fall_back_without_an_outage(
    guard: RedisGuard,
) -> None:
    before = outages()
    for _ in range(2):
        assert await guard.call(failing(RedisTimeoutError("slow")), "fallback") == "fallback"
    assert guard.available
    assert await guard.call(answering, "fallback") == "answer"
    # The answer reset the count: two more timeouts are still no outage.
    for _ in range(2):
        await guard.call(failing(TimeoutError()), "fallback")
    assert guard.available
    assert outages() == before


async def test_timeouts_in_a_row_up_to_the_threshold_mark_redis_down_once(
    guard: RedisGuard,
) -> None:
    before = outages()
    for _ in range(3):
        await guard.call(failing(RedisTimeoutError("slow")), "fallback")
    assert not guard.available
    assert await guard.call(answering, "fallback") == "fallback"
    assert outages() - before == 1


async def test_a_refused_connection_marks_redis_down_at_once(guard: RedisGuard) -> None:
    before = outages()
    refused = RedisConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    assert await guard.call(failing(refused), "fallback") == "fallback"

    assert not guard.available
    assert outages() - before == 1


async def test_after_the_rest_one_timeout_marks_redis_down_again_within_the_outage(
    guard: RedisGuard,
) -> None:
    now = [1000.0]
    guard.clock = lambda: now[0]
    before = outages()
    await guard.call(failing(RedisConnectionError("refused")), "fallback")
    now[0] += 61  # the rest is over: the next call tries Redis again

    # Still failing: one timeout is enough, the outage goes on, and it is not counted twice.
    await guard.call(failing(RedisTimeoutError("slow")), "fallback")

    assert not guard.available and guard.in_outage
    now[0] += 61
    assert await guard.call(answering, "fallback") == "answer"
    assert not guard.in_outage
    assert outages() - before == 1
