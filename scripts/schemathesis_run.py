"""Run Schemathesis against a real TaskFlow server on PostgreSQL and Redis, as an admin.

    python scripts/schemathesis_run.py [--max-examples N] [more `st run` options]

Makes a fresh PostgreSQL database (from TEST_DATABASE_URL; dropped at the end), starts
`taskflow serve` on it with the test Redis (TEST_REDIS_URL), creates an administrator,
logs in, and runs every Schemathesis phase with every check against /openapi.json, with
the per-operation settings of schemathesis.toml. Exits with Schemathesis's status.

The caller is an administrator so that every operation is reachable, and so that no
generated request can lock the run out: administrators cannot deactivate or demote
themselves. Rate limits are off, since thousands of requests come from one address.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN_EMAIL = "fuzz-admin@example.com"
STARTUP_SECONDS = 30


async def _run_sql(sql: str) -> None:
    url = make_url(TEST_DATABASE_URL)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def fresh_database() -> Iterator[str]:
    name = f"taskflow_fuzz_{os.getpid()}"
    asyncio.run(_run_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_run_sql(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_run_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def taskflow(*args: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "taskflow", *args], env=env, check=True, capture_output=True
    )


def server_environment(database_url: str) -> dict[str, str]:
    redis = TEST_REDIS_URL.rsplit("/", 1)[0] + "/15"  # a database the test suite leaves alone
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis,
        "REDIS_KEY_PREFIX": f"tffuzz{os.getpid()}",
        "ENVIRONMENT": "test",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ACCESS_TOKEN_EXPIRE_MINUTES": "240",
        "EMAIL_BACKEND": "console",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "RATE_LIMIT_LOGIN": "off",
        "RATE_LIMIT_REGISTER": "off",
        "RATE_LIMIT_PASSWORD_RESET": "off",
        "RATE_LIMIT_DEFAULT": "off",
    }


def wait_until_live(base_url: str, server: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{base_url}/health/live", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=50)
    known, extra = parser.parse_known_args()
    password = secrets.token_urlsafe(12) + "a1"
    with fresh_database() as database_url, tempfile.TemporaryDirectory() as workdir:
        env = server_environment(database_url)
        taskflow("migrate", env=env)
        taskflow(
            "create-admin",
            "--email",
            ADMIN_EMAIL,
            "--password",
            password,
            "--full-name",
            "Fuzz Admin",
            env=env,
        )
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = Path(workdir) / "server.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "taskflow", "serve", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                if not wait_until_live(base_url, server):
                    print(log_path.read_text(), file=sys.stderr)
                    return 2
                login = {"email": ADMIN_EMAIL, "password": password}
                token = httpx.post(f"{base_url}/api/v1/auth/login", json=login).json()
                command = [
                    str(Path(sys.executable).with_name("st")),
                    "run",
                    f"{base_url}/openapi.json",
                    "--header",
                    f"Authorization: Bearer {token['access_token']}",
                    "--phases",
                    "examples,coverage,fuzzing,stateful",
                    "--checks",
                    "all",
                    # DELETE /users/{user_id} deactivates an account and never erases it
                    # (docs/decisions.md): an administrator still reads it and may
                    # reactivate it, so a request after the DELETE answers 200 by design.
                    # Schemathesis cannot scope this check to one resource, and "--checks
                    # all" overrides a phase's setting in schemathesis.toml, so it is
                    # excluded here; deleted projects and tasks answering 404 is asserted
                    # by the API tests.
                    "--exclude-checks",
                    "use_after_free",
                    "--max-examples",
                    str(known.max_examples),
                    *extra,
                ]
                return subprocess.run(command, cwd=ROOT, check=False).returncode
            finally:
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
