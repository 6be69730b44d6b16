"""SIGTERM to a real `taskflow serve`: no new connections, the request in flight is finished,
the lifespan closes the pools, and the process exits 0."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.mailbox import Mailbox, free_port
from tests.support.server import (
    RunningServer,
    server_env,
    taskflow_command,
    wait_until_live,
)

EXIT_SECONDS = 15


@dataclass(frozen=True)
class ServerProcess:
    server: RunningServer
    process: subprocess.Popen[bytes]
    port: int


@pytest.fixture
def postgres_server(
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    smtp: tuple[Mailbox, int],
    mailbox: Mailbox,
) -> Iterator[ServerProcess]:
    """`taskflow serve` on PostgreSQL and Redis, as production runs it (one worker)."""
    env = server_env(database_url, smtp[1], REDIS_URL=redis_url)
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            taskflow_command("serve", "--host", "127.0.0.1", "--port", str(port)),
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        server = RunningServer(f"http://127.0.0.1:{port}", env, log_path)
        try:
            wait_until_live(server, process)
            yield ServerProcess(server, process, port)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def read_head(sock: socket.socket) -> bytes:
    """Bytes up to the end of one response head (the blank line)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)
        if not chunk:
            raise AssertionError(f"connection closed after {data!r}")
        data += chunk
    return data


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def wait_until_refused(port: int) -> None:
    """Poll until the server no longer accepts connections (it stops within a tick)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            probe = socket.create_connection(("127.0.0.1", port), timeout=1)
        except ConnectionRefusedError:
            return
        probe.close()
        time.sleep(0.02)  # polling a process that is stopping, not waiting on app time
    raise AssertionError("the server still accepts connections after SIGTERM")


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def test_sigterm_finishes_the_request_in_flight_refuses_new_ones_and_exits_0(
    postgres_server: ServerProcess,
) -> None:
    body = json.dumps(
        {"email": "in-flight@example.com", "password": "s3cret-pass", "full_name": "In Flight"}
    ).encode()
    head = (
        "POST /api/v1/auth/register HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{postgres_server.port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        # The server answers 100 Continue once the app reads the body: proof it is in flight.
        "Expect: 100-continue\r\n"
        "\r\n"
    ).encode()

    with socket.create_connection(("127.0.0.1", postgres_server.port), timeout=10) as sock:
        sock.sendall(head)
        assert read_head(sock).startswith(b"HTTP/1.1 100")
        sock.sendall(body[:10])

        postgres_server.process.send_signal(signal.SIGTERM)

        wait_until_refused(postgres_server.port)
        assert postgres_server.process.poll() is None, "exited with a request in flight"
        sock.sendall(body[10:])
        status, headers, response_body = parse_response(read_until_closed(sock))

    assert status == 201, response_body
    assert json.loads(response_body)["email"] == "in-flight@example.com"
    assert "server" not in headers
    assert headers["x-content-type-options"] == "nosniff"
    assert postgres_server.process.wait(timeout=EXIT_SECONDS) == 0
    lines = [
        json.loads(line)
        for line in postgres_server.server.log().splitlines()
        if line.startswith("{")
    ]
    events = [line.get("event") for line in lines]
    assert "shutdown" in events
    # The request finished before the lifespan shut the pools.
    registered = [
        index
        for index, line in enumerate(lines)
        if line.get("event") == "request" and line.get("path") == "/api/v1/auth/register"
    ]
    assert registered
    assert registered[0] < events.index("shutdown")


def test_sigterm_on_an_idle_server_exits_0_at_once(postgres_server: ServerProcess) -> None:
    postgres_server.process.send_signal(signal.SIGTERM)

    assert postgres_server.process.wait(timeout=EXIT_SECONDS) == 0
    assert "shutdown" in postgres_server.server.log()
