"""A real `taskflow serve` process on a free port, for the end-to-end and browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.mailbox import free_port

STARTUP_SECONDS = 30


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    env: dict[str, str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def taskflow_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "taskflow", *args]


def server_env(database_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TASKFLOW_")}
    for name in ("REDIS_URL", "SECRET_KEY", "CORS_ORIGINS", "LOG_FORMAT"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=database_url,
        ENVIRONMENT="development",
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        FRONTEND_URL="http://frontend.test",
        LOG_FORMAT="json",
        **extra,
    )
    return env


@contextmanager
def running_server(env: dict[str, str], log_path: Path, *args: str) -> Iterator[RunningServer]:
    """`taskflow serve` on a free port with this environment, stopped at the end."""
    port = free_port()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            taskflow_command("serve", "--host", "127.0.0.1", "--port", str(port), *args),
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        server = RunningServer(f"http://127.0.0.1:{port}", env, log_path)
        try:
            wait_until_live(server, process)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        taskflow_command("migrate"), env=env, check=True, capture_output=True, timeout=60
    )


def wait_until_live(server: RunningServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"taskflow serve exited with {process.returncode}:\n{server.log()}"
            )
        try:
            if httpx.get(f"{server.base_url}/health/live", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling a starting process; no app time is being waited on
    raise AssertionError(f"taskflow serve did not start:\n{server.log()}")
