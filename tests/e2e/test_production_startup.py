"""`taskflow serve` as production runs it: every line it writes is JSON, and what an operator
must fix (a schema never migrated, emails that go nowhere) is said at start."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.mailbox import Mailbox
from tests.support.server import migrate, running_server, server_env


def production_env(database: Path, smtp_port: int, **extra: str) -> dict[str, str]:
    env = server_env(f"sqlite+aiosqlite:///{database}", smtp_port)
    env.update(ENVIRONMENT="production", SECRET_KEY=secrets.token_urlsafe(48), **extra)
    # As an operator sets it: LOG_FORMAT is left to its production default.
    env.pop("LOG_FORMAT")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def json_lines(log: str) -> list[dict[str, Any]]:
    """Every line of the log, each parsed as JSON (a line that is not fails the test)."""
    parsed = []
    for line in log.splitlines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}\n{log}")
    return parsed


@pytest.mark.parametrize("workers", ["1", "2"])
def test_every_line_a_production_server_writes_is_json(
    tmp_path: Path, smtp: tuple[Mailbox, int], mailbox: Mailbox, workers: str
) -> None:
    env = production_env(tmp_path / "taskflow.db", smtp[1])
    migrate(env)
    with running_server(env, tmp_path / "server.log", "--workers", workers) as server:
        assert httpx.get(f"{server.base_url}/health", timeout=10).status_code == 200

    events = [line["event"] for line in json_lines(server.log())]
    assert "startup" in events and "shutdown" in events
    assert "email_backend_console" not in events


def test_production_with_console_email_warns_at_start(
    tmp_path: Path, smtp: tuple[Mailbox, int], mailbox: Mailbox
) -> None:
    env = production_env(tmp_path / "taskflow.db", smtp[1], EMAIL_BACKEND="console")
    migrate(env)
    with running_server(env, tmp_path / "server.log") as server:
        pass

    warnings = [
        line for line in json_lines(server.log()) if line["event"] == "email_backend_console"
    ]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "warning"
    assert "never sent" in warnings[0]["detail"]


def test_serving_a_database_never_migrated_says_so_and_is_not_ready(
    tmp_path: Path, smtp: tuple[Mailbox, int], mailbox: Mailbox
) -> None:
    env = production_env(tmp_path / "taskflow.db", smtp[1])
    with running_server(env, tmp_path / "server.log") as server:
        health = httpx.get(f"{server.base_url}/health", timeout=10)

    assert health.status_code == 503
    assert health.json()["checks"]["migrations"] == "error"
    pending = [line for line in json_lines(server.log()) if line["event"] == "migrations_pending"]
    assert len(pending) == 1
    assert pending[0]["level"] == "warning"
    assert "taskflow migrate" in pending[0]["detail"]
