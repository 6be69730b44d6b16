"""Migration 0006 gives every existing project its statuses and every task its place."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from taskflow import db_migrations

_ROWS = [
    "INSERT INTO users (id, email, full_name, password_hash, role, is_active, is_verified,"
    " failed_login_count, created_at, updated_at) VALUES"
    " (1, 'o@example.com', 'Owner', 'x', 'user', true, true, 0, :at, :at)",
    "INSERT INTO projects (id, name, is_archived, owner_id, version, created_at, updated_at)"
    " VALUES (1, 'Old', false, 1, 1, :at, :at), (2, 'Empty', false, 1, 1, :at, :at)",
]
_TASK = (
    "INSERT INTO tasks (id, project_id, title, priority, is_completed, created_by_id, version,"
    " created_at, updated_at) VALUES (:id, 1, :title, 3, :done, 1, 1, :at, :at)"
)


async def _execute(url: str, statements: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    engine = create_async_engine(url, poolclass=NullPool)
    results = []
    try:
        async with engine.begin() as connection:
            for statement, parameters in statements:
                result = await connection.execute(text(statement), parameters)
                results.append(result.all() if result.returns_rows else None)
    finally:
        await engine.dispose()
    return results


async def _assert_backfill(url: str) -> None:
    await asyncio.to_thread(db_migrations.upgrade, url, "0005")
    at = {"at": datetime(2026, 1, 1, tzinfo=UTC)}
    tasks = [(3, "third", False), (1, "first", False), (2, "done", True), (4, "fourth", False)]
    await _execute(
        url,
        [(statement, at) for statement in _ROWS]
        + [(_TASK, {"id": i, "title": t, "done": d, **at}) for i, t, d in tasks],
    )

    await asyncio.to_thread(db_migrations.upgrade, url)

    statuses, placed = await _execute(
        url,
        [
            ("SELECT project_id, name, category, position FROM statuses ORDER BY id", {}),
            (
                "SELECT tasks.id, statuses.name FROM tasks JOIN statuses ON statuses.id ="
                " tasks.status_id ORDER BY statuses.position, tasks.position, tasks.id",
                {},
            ),
        ],
    )
    defaults = [("To do", "todo", 0), ("In progress", "in_progress", 1), ("Done", "done", 2)]
    assert sorted(tuple(row) for row in statuses) == sorted(
        (project, *status) for project in (1, 2) for status in defaults
    )
    # Open tasks in To do, in the order they were created (the same time: then by id).
    assert [tuple(row) for row in placed] == [
        (1, "To do"),
        (3, "To do"),
        (4, "To do"),
        (2, "Done"),
    ]
    await asyncio.to_thread(db_migrations.downgrade, url, "0005")


async def test_backfill_on_sqlite(tmp_path: Path) -> None:
    await _assert_backfill(f"sqlite+aiosqlite:///{tmp_path / 'backfill.db'}")


@pytest.mark.postgres
async def test_backfill_on_postgresql(create_postgres_database: Any) -> None:
    await _assert_backfill(await create_postgres_database("status_backfill"))
