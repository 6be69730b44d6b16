"""Count the SQL statements an app sends, to prove what does and does not reach the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The statements the app's engine executes inside the block, in order."""
    seen: list[str] = []
    engine = app.state.database.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
