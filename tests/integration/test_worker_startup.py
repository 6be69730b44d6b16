"""What a worker does once at start-up, checked in a process of its own."""

from __future__ import annotations

from pathlib import Path

from tests.support.probe import run_probe

# Builds the app, runs its lifespan's start-up and prints how many objects the garbage
# collector was told to leave alone, before and after, and collects garbage made afterwards.
_PROBE = """
import asyncio, gc, sys
from asgi_lifespan import LifespanManager
from taskflow.config import Settings
from taskflow.main import create_app

async def main():
    settings = Settings(
        _env_file=None, environment="test", secret_key="s" * 48, redis_url=None,
        database_url="sqlite+aiosqlite:///" + sys.argv[1], log_level="WARNING",
    )
    app = create_app(settings)
    before = gc.get_freeze_count()
    async with LifespanManager(app):
        frozen = gc.get_freeze_count()
        cycle = []
        cycle.append(cycle)
        del cycle
        print(before, frozen, gc.collect())

asyncio.run(main())
"""


def test_start_up_objects_are_kept_out_of_later_garbage_collections(tmp_path: Path) -> None:
    before, frozen, collected = map(int, run_probe(_PROBE, tmp_path).split())
    assert before == 0
    # The modules, the app and its routes: tens of thousands of objects.
    assert frozen > 10_000
    # Garbage made after start-up is still collected.
    assert collected >= 1
