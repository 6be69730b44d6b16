"""TaskFlow against the ceiling of its own stack, driven by wrk over loopback.

    make bench                       # the whole run (about 10 minutes)
    python benchmarks/bench.py --quick   # shorter runs and 100 thousand tasks: a smoke test

Makes a fresh PostgreSQL database (BENCH_DATABASE_URL, default the local server), migrates
it, seeds 10,000 users with a project each and 10 thousand tasks by SQL (COPY), starts
TaskFlow (`taskflow serve`, one worker, uvloop and httptools, Redis at BENCH_REDIS_URL)
and the ceiling app (benchmarks/ceiling.py), and measures each scenario with wrk: 16
connections, a warm-up, then 10 s. The tasks are then grown to 1 million to measure the
list at scale. Every figure is also given as a ratio to the ceiling's req/s in the same
run, so results compare across machines. Writes benchmarks/results/<time>.json (and
latest.json), ratios.png and scale.png, and prints the table.

The reader of every scenario is a user who owns one project and edits four others: 5,000
tasks in all, the same at both sizes, the rest belonging to the other 9,999 users.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "benchmarks" / "results"
PASSWORD = "bench-pass-1"  # noqa: S105 - the seeded users' password, on a throwaway database
READER_PROJECTS = 5
TASKS_PER_READER_PROJECT = 1_000
DEEP_POSITION = 4_000
LOGIN_USERS = 4

# The targets of docs/performance.md: ratio of TaskFlow's req/s to the ceiling's.
TARGETS = {
    "GET /users/me": 0.5,
    "GET /tasks/{id}": 0.4,
    "GET /tasks?limit=20 (cache off)": 0.25,
    "GET /tasks?limit=20 (cache warm)": 0.5,
    "POST /tasks": 0.2,
    "PATCH /tasks/{id}": 0.2,
}

LUA_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"socket_errors":%d,"status_errors":%d,'
    .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    ratio: float | None = None
    # The server process's CPU time (user + system) per request served, in microseconds:
    # steadier than req/s where the machine's speed moves from run to run.
    cpu_us_per_request: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def server(command: Sequence[str], env: dict[str, str], port: int, log: Path) -> Iterator[int]:
    """Run a server until the block ends; yields its pid once it answers on the port."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited; see {log}")
                with suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start; see {log}")
                time.sleep(0.1)
            yield process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


# --- wrk -----------------------------------------------------------------------------------


def lua_script(
    *,
    method: str = "GET",
    token: str | None = None,
    body: str | None = None,
    paths: Sequence[str] | None = None,
    bodies: Sequence[str] | None = None,
) -> str:
    lines = [f'wrk.method = "{method}"', 'wrk.headers["Content-Type"] = "application/json"']
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    if paths or bodies:
        # Each thread walks its own stretch of the lists, so threads rarely meet on a row.
        lines.append("local paths = {" + ",".join(json.dumps(p) for p in paths or []) + "}")
        lines.append("local bodies = {" + ",".join(json.dumps(b) for b in bodies or []) + "}")
        lines.append("local n = math.random(1, 100000)")
        lines.append(
            "request = function() n = n + 1\n"
            "  local path = #paths > 0 and paths[n % #paths + 1] or wrk.path\n"
            "  local body = #bodies > 0 and bodies[n % #bodies + 1] or wrk.body\n"
            f'  return wrk.format("{method}", path, nil, body) end'
        )
    return "\n".join(lines) + LUA_REPORT


def wrk(
    url: str,
    script: str,
    *,
    seconds: float,
    connections: int,
    threads: int = 2,
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        output = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                file.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(file.name)
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            report: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
            return report
    raise RuntimeError(f"wrk printed no report:\n{output}")


def measure(
    name: str,
    url: str,
    script: str,
    options: argparse.Namespace,
    connections: int = 16,
    *,
    pid: int,
) -> Result:
    """A warm-up, then the measured run; `pid` is the server's, whose CPU time is read
    around the measured run."""
    wrk(url, script, seconds=options.warmup, connections=connections)
    cpu_before = cpu_seconds(pid)
    report = wrk(url, script, seconds=options.duration, connections=connections)
    cpu = cpu_seconds(pid) - cpu_before
    result = as_result(name, report)
    if result.requests:
        result.cpu_us_per_request = cpu / result.requests * 1e6
    print(
        f"  {name:44} {result.requests_per_second:9.0f} req/s  p50 {result.p50_ms:6.2f} ms"
        f"  p99 {result.p99_ms:7.2f} ms  errors {result.errors}"
        f"  cpu {result.cpu_us_per_request or 0:5.0f} us/req",
        flush=True,
    )
    return result


def as_result(name: str, report: dict[str, Any]) -> Result:
    seconds = report["duration_us"] / 1e6
    return Result(
        name=name,
        requests_per_second=report["requests"] / seconds,
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        errors=report["socket_errors"] + report["status_errors"],
        requests=report["requests"],
    )


# --- data ----------------------------------------------------------------------------------


@dataclass
class Seeded:
    reader_id: int
    reader_email: str
    login_emails: list[str]
    reader_project_ids: list[int]
    reader_task_ids: list[int]
    tasks: int


def password_hash() -> str:
    from taskflow.core.security import password_hash as hasher

    return hasher.hash(PASSWORD)


async def seed(dsn: str, *, users: int, tasks: int) -> Seeded:
    """Users 1..users with a project each; user 1 (the reader) also edits projects 2..5."""
    connection = await asyncpg.connect(dsn)
    try:
        now = datetime.now(UTC)
        hashed = password_hash()
        await connection.copy_records_to_table(
            "users",
            columns=[
                "id",
                "email",
                "full_name",
                "password_hash",
                "role",
                "is_active",
                "is_verified",
                "failed_login_count",
                "created_at",
                "updated_at",
            ],
            records=[
                (
                    n,
                    f"user{n}@bench.example.com",
                    f"User {n}",
                    hashed,
                    "user",
                    True,
                    True,
                    0,
                    now,
                    now,
                )
                for n in range(1, users + 1)
            ],
        )
        await connection.copy_records_to_table(
            "projects",
            columns=[
                "id",
                "name",
                "description",
                "is_archived",
                "owner_id",
                "version",
                "created_at",
                "updated_at",
            ],
            records=[(n, f"Project {n}", None, False, n, 1, now, now) for n in range(1, users + 1)],
        )
        # Each project's default statuses: 3n-2 "To do", 3n-1 "In progress", 3n "Done".
        await connection.copy_records_to_table(
            "statuses",
            columns=["id", "project_id", "name", "category", "position", "color"],
            records=[
                (3 * n - 2 + place, n, name, category, place, None)
                for n in range(1, users + 1)
                for place, (name, category) in enumerate(
                    (("To do", "todo"), ("In progress", "in_progress"), ("Done", "done"))
                )
            ],
        )
        await connection.execute(
            f"SELECT setval(pg_get_serial_sequence('statuses', 'id'), {3 * users})"
        )
        await connection.copy_records_to_table(
            "project_members",
            columns=["project_id", "user_id", "role", "created_at"],
            records=[(n, 1, "editor", now) for n in range(2, READER_PROJECTS + 1)],
        )
        for table in ("users", "projects"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {users})"
            )
        reader_tasks = READER_PROJECTS * TASKS_PER_READER_PROJECT
        await add_tasks(connection, start=1, count=reader_tasks, users=users, reader=True)
        await add_tasks(connection, start=reader_tasks + 1, count=tasks - reader_tasks, users=users)
        reader_task_ids = [
            row["id"]
            for row in await connection.fetch(
                "SELECT id FROM tasks WHERE project_id <= $1 ORDER BY id", READER_PROJECTS
            )
        ]
        return Seeded(
            reader_id=1,
            reader_email="user1@bench.example.com",
            login_emails=[f"user{n}@bench.example.com" for n in range(2, 2 + LOGIN_USERS)],
            reader_project_ids=list(range(1, READER_PROJECTS + 1)),
            reader_task_ids=reader_task_ids,
            tasks=tasks,
        )
    finally:
        await connection.close()


_BASE_62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _rank_key(n: int) -> str:
    """A rank key (taskflow.statuses.ranks) that orders by n: "d" and four base-62 digits."""
    digits = ""
    for _ in range(4):
        n, digit = divmod(n, 62)
        digits = _BASE_62[digit] + digits
    return "d" + digits


async def add_tasks(
    connection: asyncpg.Connection, *, start: int, count: int, users: int, reader: bool = False
) -> None:
    """Tasks with ids from start, created over the last year, in the reader's projects or
    spread over everybody else's, in batches of 100,000."""
    rng = random.Random(start)  # noqa: S311 - test data
    now = datetime.now(UTC)
    columns = [
        "id",
        "project_id",
        "title",
        "description",
        "priority",
        "is_completed",
        "completed_at",
        "due_date",
        "assignee_id",
        "created_by_id",
        "version",
        "created_at",
        "updated_at",
        "status_id",
        "position",
    ]
    batch = 100_000
    for offset in range(0, count, batch):
        records = []
        for n in range(start + offset, start + min(offset + batch, count)):
            project = 1 + n % READER_PROJECTS if reader else rng.randint(READER_PROJECTS + 1, users)
            created = now - timedelta(seconds=rng.randint(0, 365 * 24 * 3600))
            due = created + timedelta(days=rng.randint(1, 60)) if n % 3 else None
            done = n % 5 == 0
            records.append(
                (
                    n,
                    project,
                    f"Task {n}",
                    None,
                    1 + n % 5,
                    done,
                    created if done else None,
                    due,
                    None,
                    project,
                    1,
                    created,
                    created,
                    3 * project if done else 3 * project - 2,
                    _rank_key(n),
                )
            )
        await connection.copy_records_to_table("tasks", columns=columns, records=records)
    await connection.execute(
        "SELECT setval(pg_get_serial_sequence('tasks', 'id'), (SELECT max(id) FROM tasks))"
    )
    # Index-only scans need the visibility map that VACUUM writes, as autovacuum would.
    await connection.execute("VACUUM ANALYZE")
    # The load's dirty pages are written now, not by the checkpointer while a scenario runs
    # (which needs superuser or pg_checkpoint; without it the scenarios may see that I/O).
    with suppress(asyncpg.InsufficientPrivilegeError):
        await connection.execute("CHECKPOINT")


# --- the run -------------------------------------------------------------------------------


SECRET_KEY = secrets.token_urlsafe(48)


# What POST /tasks made (its titles), removed before the next scenarios.
CREATED_TASKS_CLEANUP = "DELETE FROM tasks WHERE title LIKE 'Bench task %'"


async def run_sql(dsn: str, sql: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
        await connection.execute("VACUUM ANALYZE tasks")
    finally:
        await connection.close()


def taskflow_env(database_url: str, redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    return {
        "ENVIRONMENT": "production",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        # One key for every server of the run, so a token works on each of them.
        "SECRET_KEY": SECRET_KEY,
        "ACCESS_TOKEN_EXPIRE_MINUTES": "600",
        # Limits stay on, and are checked in Redis on every request, but none is reached.
        "RATE_LIMIT_LOGIN": "1000000/minute",
        "RATE_LIMIT_DEFAULT": "1000000/minute",
        **extra,
    }


OUTAGES_COUNTER = "taskflow_redis_outages_total"


def redis_outages(base: str) -> float | None:
    """The sum of the server's counter of Redis outages over its labels, from /metrics;
    None when the server does not export it."""
    from prometheus_client.parser import text_string_to_metric_families

    response = httpx.get(f"{base}/metrics", timeout=30)
    if response.status_code != 200:
        return None
    samples = [
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == OUTAGES_COUNTER
    ]
    return sum(samples) if samples else None


def login(base: str, email: str) -> str:
    response = httpx.post(
        f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def deep_cursor(base: str, token: str, position: int) -> str:
    """The cursor of the page that starts at `position`, reached by following next links."""
    url = f"{base}/api/v1/tasks?limit=100"
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(position // 100):
        response = httpx.get(url, headers=headers, timeout=30)
        response.raise_for_status()
        url = response.links["next"]["url"]
    return httpx.URL(url).params["cursor"]


def list_scenarios(
    base: str, token: str, options: argparse.Namespace, label: str, *, pid: int
) -> list[Result]:
    script = lua_script(token=token)
    cursor = deep_cursor(base, token, DEEP_POSITION)
    tasks = f"{base}/api/v1/tasks"
    pages = {
        "first page": f"{tasks}?limit=20",
        "deep page by cursor": f"{tasks}?limit=20&cursor={cursor}",
        "deep page by skip": f"{tasks}?limit=20&skip={DEEP_POSITION}",
    }
    return [
        measure(f"{label}: {page}", url, script, options, pid=pid) for page, url in pages.items()
    ]


def run(options: argparse.Namespace) -> dict[str, Any]:
    admin_dsn = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"taskflow_bench_{os.getpid()}"
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/{name}"
    prefix = f"tfbench{os.getpid()}"
    database_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    logs = Path(tempfile.mkdtemp(prefix="taskflow-bench-"))
    results: list[Result] = []
    memory: dict[str, float] = {}
    outages: dict[str, float | None] = {}

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(admin_dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        subprocess.run(
            [str(BIN / "taskflow"), "migrate"],
            env={**os.environ, "DATABASE_URL": database_url},
            check=True,
            capture_output=True,
        )
        print(f"seeding {options.users} users and {options.small_tasks} tasks", flush=True)
        seeded = asyncio.run(seed(dsn, users=options.users, tasks=options.small_tasks))
        ports = {key: free_port() for key in ("ceiling", "warm", "cold", "fresh")}
        base = {key: f"http://127.0.0.1:{port}" for key, port in ports.items()}

        def taskflow(key: str, **extra: str) -> Any:
            command = [str(BIN / "taskflow"), "serve", "--port", str(ports[key])]
            env = taskflow_env(database_url, redis_url, prefix, **extra)
            return server(command, env, ports[key], logs / f"{key}.log")

        ceiling = server(
            [
                str(BIN / "uvicorn"),
                "benchmarks.ceiling:app",
                "--port",
                str(ports["ceiling"]),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            {"CEILING_DSN": dsn, "CEILING_USER_ID": str(seeded.reader_id)},
            ports["ceiling"],
            logs / "ceiling.log",
        )
        with (
            ceiling as ceiling_pid,
            taskflow("warm") as warm_pid,
            taskflow("cold", CACHE_READS="false") as cold_pid,
        ):
            token = login(base["warm"], seeded.reader_email)
            auth = lua_script(token=token)
            me = "/api/v1/users/me"
            task_id = seeded.reader_task_ids[len(seeded.reader_task_ids) // 2]
            print("scenarios (16 connections)", flush=True)
            ceiling_result = measure(
                "ceiling: GET /users/me",
                f"{base['ceiling']}/users/me",
                auth,
                options,
                pid=ceiling_pid,
            )
            results += [
                ceiling_result,
                measure("GET /users/me", base["warm"] + me, auth, options, pid=warm_pid),
                measure(
                    "GET /tasks/{id}",
                    f"{base['cold']}/api/v1/tasks/{task_id}",
                    auth,
                    options,
                    pid=cold_pid,
                ),
                measure(
                    # 1,000 tasks in the project: each status's first 20, and the totals.
                    "GET /projects/{id}/board?limit=20",
                    f"{base['cold']}/api/v1/projects/{seeded.reader_project_ids[0]}/board?limit=20",
                    auth,
                    options,
                    pid=cold_pid,
                ),
                measure(
                    "GET /tasks?limit=20 (cache off)",
                    f"{base['cold']}/api/v1/tasks?limit=20",
                    auth,
                    options,
                    pid=cold_pid,
                ),
                measure(
                    "GET /tasks?limit=20 (cache warm)",
                    f"{base['warm']}/api/v1/tasks?limit=20",
                    auth,
                    options,
                    pid=warm_pid,
                ),
                measure(
                    "POST /tasks",
                    f"{base['cold']}/api/v1/tasks",
                    lua_script(
                        method="POST",
                        token=token,
                        bodies=[
                            json.dumps({"title": f"Bench task {n}", "project_id": project})
                            for n, project in enumerate(seeded.reader_project_ids)
                        ],
                    ),
                    options,
                    pid=cold_pid,
                ),
            ]
            # The reader keeps the tasks the run describes: the created ones go again.
            asyncio.run(run_sql(dsn, CREATED_TASKS_CLEANUP))
            results += [
                measure(
                    "PATCH /tasks/{id}",
                    f"{base['cold']}/api/v1/tasks/{task_id}",
                    lua_script(
                        method="PATCH",
                        token=token,
                        paths=[f"/api/v1/tasks/{n}" for n in seeded.reader_task_ids[:1000]],
                        bodies=[json.dumps({"priority": p}) for p in range(1, 6)],
                    ),
                    options,
                    pid=cold_pid,
                ),
            ]
            # Every connection changes the same task: each PATCH waits for the one before it
            # (a row lock), and none may be refused.
            hot = measure(
                "PATCH /tasks/{id}, one hot row",
                f"{base['cold']}/api/v1/tasks/{task_id}",
                lua_script(
                    method="PATCH",
                    token=token,
                    bodies=[json.dumps({"priority": p}) for p in range(1, 6)],
                ),
                options,
                pid=cold_pid,
            )
            results.append(hot)
            results += login_burst(base["cold"], token, seeded, options, pid=cold_pid)
            outages["warm"] = redis_outages(base["warm"])
            outages["cold"] = redis_outages(base["cold"])
            print(f"list at {seeded.tasks} tasks (cache off)", flush=True)
            small = list_scenarios(
                base["cold"], token, options, f"{seeded.tasks} tasks", pid=cold_pid
            )
            results += small

        print(f"growing to {options.large_tasks} tasks", flush=True)
        asyncio.run(grow(dsn, seeded, options))
        with taskflow("cold", CACHE_READS="false") as cold_pid:
            token = login(base["cold"], seeded.reader_email)
            large = list_scenarios(
                base["cold"], token, options, f"{options.large_tasks} tasks", pid=cold_pid
            )
            results += large
            outages["cold, 1M tasks"] = redis_outages(base["cold"])

        print("memory of a fresh worker", flush=True)
        with taskflow("fresh") as pid:
            token = login(base["fresh"], seeded.reader_email)
            memory = memory_growth(base["fresh"], pid, token, seeded)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        with suppress(Exception):
            import redis

            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"{prefix}:*", count=1000):
                client.delete(key)

    ceiling_rps = ceiling_result.requests_per_second
    for result in results:
        result.ratio = result.requests_per_second / ceiling_rps
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            "connections": 16,
            "duration_s": options.duration,
            "warmup_s": options.warmup,
            "users": options.users,
            "small_tasks": options.small_tasks,
            "large_tasks": options.large_tasks,
            "reader_tasks": READER_PROJECTS * TASKS_PER_READER_PROJECT,
            "deep_position": DEEP_POSITION,
        },
        "results": [asdict(result) for result in results],
        "memory_mib": memory,
        "redis_outages": outages,
        "targets": TARGETS,
    }


async def grow(dsn: str, seeded: Seeded, options: argparse.Namespace) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        start = await connection.fetchval("SELECT max(id) FROM tasks") + 1
        await add_tasks(
            connection, start=start, count=options.large_tasks - seeded.tasks, users=options.users
        )
    finally:
        await connection.close()


def login_burst(
    base: str, token: str, seeded: Seeded, options: argparse.Namespace, *, pid: int
) -> list[Result]:
    """12 readers alone, then the same 12 while 4 clients log in over and over."""
    url = f"{base}/api/v1/users/me"
    reader = lua_script(token=token)
    alone = measure("readers alone (12)", url, reader, options, connections=12, pid=pid)
    logins = lua_script(
        method="POST",
        bodies=[
            json.dumps({"email": email, "password": PASSWORD}) for email in seeded.login_emails
        ],
    )
    login_url = f"{base}/api/v1/auth/login"
    wrk(url, reader, seconds=options.warmup, connections=12)
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "logins.lua"
        script.write_text(logins)
        burst = subprocess.Popen(
            [
                "wrk",
                "-t1",
                "-c4",
                f"-d{round(options.duration) + 2}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                login_url,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1)
        during = as_result(
            "readers during logins (12 + 4)",
            wrk(url, reader, seconds=options.duration, connections=12),
        )
        out, _ = burst.communicate()
    login_report = next(
        json.loads(line.removeprefix("WRK_JSON "))
        for line in out.splitlines()
        if line.startswith("WRK_JSON ")
    )
    logins_result = as_result("logins during reads (4)", login_report)
    during.extra["p99_vs_alone"] = during.p99_ms / alone.p99_ms
    print(
        f"  {during.name:44} {during.requests_per_second:9.0f} req/s  p50 {during.p50_ms:6.2f} ms"
        f"  p99 {during.p99_ms:7.2f} ms  errors {during.errors}"
        f"  (p99 {during.extra['p99_vs_alone']:.2f}x alone;"
        f" {logins_result.requests_per_second:.1f} logins/s)",
        flush=True,
    )
    return [alone, during, logins_result]


def memory_growth(base: str, pid: int, token: str, seeded: Seeded) -> dict[str, float]:
    """RSS after 10,000 and after 100,000 requests of several kinds (in 5 s runs of wrk,
    which cannot stop at a count)."""
    paths = [
        "/api/v1/users/me",
        *(f"/api/v1/tasks/{n}" for n in seeded.reader_task_ids[:200]),
        *(f"/api/v1/tasks?limit=20&priority={p}" for p in range(1, 6)),
        "/api/v1/projects",
    ]
    script = lua_script(token=token, paths=paths)
    served, errors, rss = 0, 0, {}
    for mark in (10_000, 100_000):
        while served < mark:
            report = wrk(base + paths[0], script, seconds=5, connections=16)
            served += report["requests"]
            errors += report["socket_errors"] + report["status_errors"]
        rss[mark] = (served, rss_mib(pid))
    (first_count, first), (last_count, last) = rss[10_000], rss[100_000]
    print(
        f"  RSS {first:.1f} MiB after {first_count} requests,"
        f" {last:.1f} MiB after {last_count} ({errors} errors)"
    )
    return {
        "after_10k": first,
        "after_100k": last,
        "growth": last / first,
        "requests_first": first_count,
        "requests_last": last_count,
        "errors": errors,
    }


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    postgres = subprocess.run(
        ["psql", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "postgresql_client": postgres,
    }


# --- output --------------------------------------------------------------------------------


def table(report: dict[str, Any]) -> str:
    lines = [
        f"{'scenario':46} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'ratio':>6}"
        f" {'target':>7} {'cpu us':>7}"
    ]
    for result in report["results"]:
        target = report["targets"].get(result["name"])
        cpu = result.get("cpu_us_per_request")
        lines.append(
            f"{result['name']:46} {result['requests_per_second']:9.0f} {result['p50_ms']:8.2f}"
            f" {result['p99_ms']:8.2f} {result['errors']:7d} {result['ratio']:6.3f}"
            f" {(f'>={target}' if target else ''):>7} {(f'{cpu:.0f}' if cpu else ''):>7}"
        )
    outages = report.get("redis_outages", {})
    lines.append(
        "Redis outages counted by the servers: "
        + ", ".join(
            f"{server} {'n/a' if count is None else f'{count:.0f}'}"
            for server, count in outages.items()
        )
    )
    memory = report["memory_mib"]
    lines.append(
        f"worker RSS: {memory['after_10k']:.1f} MiB after 10k requests,"
        f" {memory['after_100k']:.1f} MiB after 100k ({memory['growth']:.2f}x)"
    )
    return "\n".join(lines)


def charts(report: dict[str, Any], folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_name = {result["name"]: result for result in report["results"]}
    names = list(TARGETS)
    figure, axes = plt.subplots(figsize=(9, 4.5))
    ratios = [by_name[name]["ratio"] for name in names]
    bars = axes.barh(names, ratios, color="#4a7ab5", label="TaskFlow / ceiling")
    axes.scatter(
        [TARGETS[n] for n in names],
        names,
        marker="|",
        s=400,
        color="#c03030",
        label="target",
        zorder=3,
    )
    axes.bar_label(bars, fmt="%.3f", padding=3)
    axes.invert_yaxis()
    axes.set_xlabel("req/s as a ratio to the ceiling (bare Starlette + asyncpg), same run")
    axes.set_xlim(0, max(1.0, max(ratios) * 1.15))
    axes.legend(loc="lower right")
    axes.set_title(f"TaskFlow, one worker, 16 connections ({report['when'][:10]})")
    figure.tight_layout()
    ratios_png = folder / "ratios.png"
    figure.savefig(ratios_png, dpi=110)
    plt.close(figure)

    settings = report["settings"]
    sizes = [settings["small_tasks"], settings["large_tasks"]]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for kind, style in (
        ("first page", "o-"),
        ("deep page by cursor", "s-"),
        ("deep page by skip", "^--"),
    ):
        for stat, alpha in (("p50_ms", 1.0), ("p99_ms", 0.45)):
            values = [by_name[f"{size} tasks: {kind}"][stat] for size in sizes]
            axes.plot(sizes, values, style, alpha=alpha, label=f"{kind} {stat[:3]}")
    axes.set_xscale("log")
    axes.set_xlabel("tasks in the database (the reader sees 5,000 of them)")
    axes.set_ylabel("latency, ms (16 connections)")
    axes.set_title("GET /tasks?limit=20 against data size, X-Total-Count on")
    axes.legend(fontsize=8)
    figure.tight_layout()
    scale_png = folder / "scale.png"
    figure.savefig(scale_png, dpi=110)
    plt.close(figure)
    return [ratios_png, scale_png]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--small-tasks", type=int, default=10_000)
    parser.add_argument("--large-tasks", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="3 s runs, 100 thousand tasks")
    parser.add_argument("--output", type=Path, default=RESULTS)
    options = parser.parse_args()
    if options.quick:
        options.duration, options.warmup, options.large_tasks = 3.0, 1.0, 100_000
    if shutil.which("wrk") is None:
        print(
            "wrk is not installed. On Debian or Ubuntu: sudo apt-get install wrk",
            file=sys.stderr,
        )
        return 2
    report = run(options)
    options.output.mkdir(parents=True, exist_ok=True)
    stamp = report["when"].replace(":", "").replace("-", "")[:15]
    for path in (options.output / f"{stamp}.json", options.output / "latest.json"):
        path.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(report))
    for png in charts(report, options.output):
        print(f"chart: {png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
