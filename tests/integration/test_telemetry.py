"""FastAPI's native OpenTelemetry: off unless OTEL_ENABLED, checked in a process of its own
(a process has one global tracer provider, which cannot be unset)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.probe import run_probe

# Sets a tracer provider that records the spans started, then serves one request with the
# telemetry setting off and one with it on, and prints the spans each started.
_PROBE = """
import asyncio, json, sys
from contextlib import contextmanager
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from opentelemetry import trace
from taskflow.config import Settings
from taskflow.main import create_app

started = []

class RecordingTracer(trace.Tracer):
    def start_span(self, name, *args, **kwargs):
        started.append(name)
        return trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)

    @contextmanager
    def start_as_current_span(self, name, *args, **kwargs):
        yield self.start_span(name)

class RecordingProvider(trace.TracerProvider):
    def get_tracer(self, *args, **kwargs):
        return RecordingTracer()

trace.set_tracer_provider(RecordingProvider())

async def spans(enabled):
    settings = Settings(
        _env_file=None, environment="test", secret_key="s" * 48, redis_url=None,
        database_url="sqlite+aiosqlite:///" + sys.argv[1], log_level="WARNING",
        otel_enabled=enabled,
    )
    app = create_app(settings)
    started.clear()
    async with LifespanManager(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/health/live")).status_code == 200
    return list(started)

async def main():
    print(json.dumps({"off": await spans(False), "on": await spans(True)}))

asyncio.run(main())
"""


def test_fastapi_telemetry_reaches_the_tracer_provider_only_when_enabled(tmp_path: Path) -> None:
    spans = json.loads(run_probe(_PROBE, tmp_path).splitlines()[-1])
    assert spans["off"] == []
    assert "GET" in spans["on"], spans
