"""Watch the SQL statements an app sends, to prove what does and does not reach the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event


@contextmanager
def _listening(app: FastAPI, name: str, listener: Callable[..., None]) -> Iterator[None]:
    engine = app.state.database.engine.sync_engine
    event.listen(engine, name, listener)
    try:
        yield
    finally:
        event.remove(engine, name, listener)


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The statements the app's engine executes inside the block, in order."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    with _listening(app, "before_cursor_execute", record):
        yield seen


@contextmanager
def statements_in_transaction(app: FastAPI) -> Iterator[list[tuple[str, bool]]]:
    """(first word, whether its connection was in a transaction once it had run) for each
    statement inside the block (PostgreSQL: asyncpg begins a transaction as the first
    statement of one is sent)."""
    seen: list[tuple[str, bool]] = []

    def record(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append((statement.split()[0], conn.connection.driver_connection.is_in_transaction()))

    with _listening(app, "after_cursor_execute", record):
        yield seen
