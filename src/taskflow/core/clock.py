"""The one source of the current time, UTC and timezone-aware; tests move it with time-machine."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
