"""Where the test PostgreSQL and Redis are, and what happens when they are not there."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("TASKFLOW_REQUIRE_SERVICES") == "1"
# The database of tests that do not choose: "postgresql", or "sqlite" to run without a server.
DEFAULT_TEST_DATABASE = os.environ.get("TASKFLOW_TEST_DATABASE", "postgresql")


def unavailable(
    service: str,
    reason: object,
    remedy: str = "set TEST_DATABASE_URL / TEST_REDIS_URL or start it",
) -> NoReturn:
    """Skip with a visible reason, or fail when the run requires every service."""
    message = f"{service} is not reachable ({reason})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; TASKFLOW_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(f"{message}; {remedy}")


def worker_number() -> int:
    """0 for a plain run, N for the xdist worker gwN."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw") or 0)
