"""A real `taskflow serve` process on a free port, driven over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mailbox import Mailbox
from tests.support.server import RunningServer, migrate, running_server, server_env


@pytest.fixture
def sqlite_server(
    tmp_path: Path, smtp: tuple[Mailbox, int], mailbox: Mailbox
) -> Iterator[RunningServer]:
    """`taskflow migrate` then `taskflow serve` on the embedded default: SQLite, no Redis."""
    env = server_env(f"sqlite+aiosqlite:///{tmp_path / 'taskflow.db'}", smtp[1])
    migrate(env)
    with running_server(env, tmp_path / "server.log") as server:
        yield server
