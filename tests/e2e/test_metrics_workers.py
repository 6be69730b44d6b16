"""`taskflow serve --workers 2`: one scrape of /metrics, whichever worker answers it, counts
the requests of every worker."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.mailbox import Mailbox, free_port
from tests.support.server import RunningServer, server_env, taskflow_command, wait_until_live

HEALTH = {"method": "GET", "route": "/health", "status": "200"}
MAX_REQUESTS = 200  # far more than it takes for both workers to answer some
SCRAPES = 8


@dataclass(frozen=True)
class Workers:
    server: RunningServer
    process: subprocess.Popen[bytes]
    metrics_dir: Path


@pytest.fixture
def two_workers(tmp_path: Path, smtp: tuple[Mailbox, int], mailbox: Mailbox) -> Iterator[Workers]:
    env = server_env(f"sqlite+aiosqlite:///{tmp_path / 'taskflow.db'}", smtp[1])
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run(
        taskflow_command("migrate"), env=env, check=True, capture_output=True, timeout=60
    )
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            taskflow_command("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"),
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        server = RunningServer(f"http://127.0.0.1:{port}", env, log_path)
        try:
            wait_until_live(server, process)
            shared = [
                line["directory"]
                for line in map(json.loads, server.log().splitlines())
                if line["event"] == "metrics_shared"
            ]
            assert len(shared) == 1, server.log()
            yield Workers(server, process, Path(shared[0]))
        finally:
            # SIGTERM lets the server stop its workers; SIGKILL would leave them orphaned.
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


def sample(exposition: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(exposition):
        for item in family.samples:
            if item.name == name and item.labels == labels:
                return float(item.value)
    return 0.0


def health_count_by_worker(metrics_dir: Path, scratch: Path) -> dict[str, float]:
    """Each worker's own count of GET /health, read from its file alone."""
    counts = {}
    for counter_file in sorted(metrics_dir.glob("counter_*.db")):
        alone = scratch / counter_file.stem
        alone.mkdir(parents=True)
        shutil.copyfile(counter_file, alone / counter_file.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        value = registry.get_sample_value("taskflow_http_requests_total", HEALTH)
        counts[counter_file.stem] = value or 0.0
    return counts


def settled_count_by_worker(metrics_dir: Path, scratch: Path, expected: int) -> dict[str, float]:
    """The counts by worker once they add up to `expected`: a worker counts a request just
    after it has sent the response, so the last one may be a moment behind the client."""
    deadline = time.monotonic() + 5
    attempt = 0
    while True:
        attempt += 1
        counts = health_count_by_worker(metrics_dir, scratch / str(attempt))
        if sum(counts.values()) == expected or time.monotonic() > deadline:
            return counts
        time.sleep(0.01)  # polling another process's counters, not waiting on app time


def test_metrics_sum_the_requests_of_every_worker(two_workers: Workers, tmp_path: Path) -> None:
    sent = 0
    by_worker: dict[str, float] = {}
    while sent < MAX_REQUESTS:
        # A new connection each time, so that either worker may accept it.
        assert httpx.get(f"{two_workers.server.base_url}/health", timeout=5).status_code == 200
        sent += 1
        by_worker = settled_count_by_worker(
            two_workers.metrics_dir, tmp_path / f"read-{sent}", expected=sent
        )
        assert sum(by_worker.values()) == sent, by_worker
        if sum(1 for count in by_worker.values() if count > 0) >= 2:
            break
    answered = [count for count in by_worker.values() if count > 0]
    assert len(answered) == 2, f"one worker answered all {sent} requests: {by_worker}"

    for _ in range(SCRAPES):
        scraped = httpx.get(f"{two_workers.server.base_url}/metrics", timeout=5)
        assert scraped.status_code == 200
        assert sample(scraped.text, "taskflow_http_requests_total", **HEALTH) == sent


def test_the_shared_metrics_directory_is_removed_on_exit(two_workers: Workers) -> None:
    assert two_workers.metrics_dir.is_dir()
    assert list(two_workers.metrics_dir.glob("*.db"))

    two_workers.process.send_signal(signal.SIGTERM)

    assert two_workers.process.wait(timeout=30) == 0
    assert not two_workers.metrics_dir.exists()
