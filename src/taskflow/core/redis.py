"""The shared Redis client, with short timeouts so a slow Redis cannot stall requests."""

from __future__ import annotations

from redis.asyncio import Redis

from taskflow.config import Settings


def create_redis(settings: Settings) -> Redis | None:
    if settings.redis_url is None:
        return None
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=30,
    )
