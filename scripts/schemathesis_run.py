"""Run Schemathesis against a real TaskFlow server (PostgreSQL and Redis), as an admin.

Usage: python scripts/schemathesis_run.py [--max-examples N] [extra `st run` options...]

Starts `taskflow serve` on a fresh PostgreSQL database (made from TEST_DATABASE_URL and
dropped at the end) with the test Redis, creates an administrator, logs in, and runs every
phase of Schemathesis with every check against /openapi.json. Exits with its status.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ADMIN_EMAIL = "fuzz-admin@example.com"
ADMIN_PASSWORD = secrets.token_urlsafe(12) + "a1"


async def _admin(sql: str) -> None:
    url = make_url(TEST_DATABASE_URL)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password,
        database=url.database or "postgres",
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def fresh_database() -> Iterator[str]:
    name = f"taskflow_fuzz_{os.getpid()}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def taskflow(*args: str, env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "taskflow", *args], env=env, check=True, **kwargs)  # type: ignore[call-overload]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=50)
    known, extra = parser.parse_known_args()
    with fresh_database() as database_url, tempfile.TemporaryDirectory() as workdir:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": TEST_REDIS_URL,
            "REDIS_KEY_PREFIX": f"tffuzz{os.getpid()}",
            "ENVIRONMENT": "test",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "ACCESS_TOKEN_EXPIRE_MINUTES": "240",
            "EMAIL_BACKEND": "console",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "json",
            # Thousands of generated requests come from one address and one user.
            "RATE_LIMIT_LOGIN": "off",
            "RATE_LIMIT_REGISTER": "off",
            "RATE_LIMIT_PASSWORD_RESET": "off",
            "RATE_LIMIT_DEFAULT": "off",
        }
        taskflow("migrate", env=env, capture_output=True)
        taskflow(
            "create-admin", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD,
            "--full-name", "Fuzz Admin", env=env, capture_output=True,
        )
        port = free_port()
        log_path = Path(workdir) / "server.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "taskflow", "serve", "--port", str(port)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 30
                while True:
                    try:
                        if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline or server.poll() is not None:
                        print(log_path.read_text(), file=sys.stderr)
                        return 2
                    time.sleep(0.1)
                token = httpx.post(
                    f"{base}/api/v1/auth/login",
                    json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
                ).json()["access_token"]
                command = [
                    str(Path(sys.executable).with_name("st")), "run", f"{base}/openapi.json",
                    "--header", f"Authorization: Bearer {token}",
                    "--phases", "examples,coverage,fuzzing,stateful",
                    "--checks", "all",
                    "--max-examples", str(known.max_examples),
                    *extra,
                ]
                status = subprocess.run(command, cwd=ROOT, check=False).returncode
                errors = [line for line in log_path.read_text().splitlines() if '"level": "error"' in line]
                if errors:
                    print("\n".join(errors[:20]), file=sys.stderr)
                return status
            finally:
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
