"""Rate limits hold for the whole service when it runs as several uvicorn processes."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import httpx

from tests.support.mailbox import Mailbox
from tests.support.server import migrate, running_server, server_env

LOGIN = "/api/v1/auth/login"
WRONG = {"email": "nobody@example.com", "password": "wrong-pass-1"}


def _env(tmp_path: Path, redis_url: str, smtp_port: int, limit: str) -> dict[str, str]:
    return server_env(
        f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
        smtp_port,
        REDIS_URL=redis_url,
        # Its own windows: a window outlives its test by the limit's period.
        REDIS_KEY_PREFIX=f"tfe2e{os.getpid()}-{uuid.uuid4().hex[:8]}",
        RATE_LIMIT_LOGIN=limit,
        # A loaded test machine must not push Redis past its budget and into per-worker limits.
        REDIS_TIMEOUT_SECONDS="1",
        SECRET_KEY="e2e-secret-key-that-is-long-enough-0123456789",
    )


async def _login_on_a_new_connection(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        return (await http.post(LOGIN, json=WRONG)).status_code


async def test_two_server_processes_share_one_login_limit(
    tmp_path: Path, redis_url: str, smtp: tuple[Mailbox, int]
) -> None:
    env = _env(tmp_path, redis_url, smtp[1], "4/minute")
    migrate(env)
    with (
        running_server(env, tmp_path / "first.log") as first,
        running_server(env, tmp_path / "second.log") as second,
    ):
        answers = [
            await _login_on_a_new_connection(first.base_url),
            await _login_on_a_new_connection(second.base_url),
            await _login_on_a_new_connection(first.base_url),
            await _login_on_a_new_connection(second.base_url),
            await _login_on_a_new_connection(first.base_url),
            await _login_on_a_new_connection(second.base_url),
        ]
    assert answers == [401, 401, 401, 401, 429, 429]


async def test_workers_of_one_server_share_one_login_limit(
    tmp_path: Path, redis_url: str, smtp: tuple[Mailbox, int]
) -> None:
    env = _env(tmp_path, redis_url, smtp[1], "5/minute")
    migrate(env)
    with running_server(env, tmp_path / "workers.log", "--workers", "2") as server:
        # Concurrent connections, so both workers take some of them.
        answers = await asyncio.gather(
            *(_login_on_a_new_connection(server.base_url) for _ in range(12))
        )
    assert sorted(answers) == [401] * 5 + [429] * 7
