"""The migrations build the models' schema, undo it completely, and build it again."""

from __future__ import annotations

import ast
import asyncio
import re
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from taskflow import db_migrations
from taskflow.models import Base

VERSIONS_DIR = db_migrations.MIGRATIONS_DIR / "versions"
REVISION_NAME = re.compile(r"(?P<date>\d{4}_\d{2}_\d{2})_(?P<slug>[a-z0-9]+(?:_[a-z0-9]+)*)\.py")
APP_TABLES = set(Base.metadata.tables)


def _differences(connection: Connection) -> list[Any]:
    # SQLite cannot reflect an expression index (labels' unique lower(name)): nothing to compare.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        return _compared(connection)


def _compared(connection: Connection) -> list[Any]:
    # The same comparison options as migrations/env.py gives autogenerate.
    context = MigrationContext.configure(
        connection=connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": db_migrations.include_object_for(connection.dialect.name),
        },
    )
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (statuses' unique lower(name)): alembic
        # skips comparing them there; PostgreSQL compares them.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        return list(compare_metadata(context, Base.metadata))


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _inspect(url: str) -> tuple[set[str], list[Any]]:
    """The database's tables, and how the models differ from it."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(_table_names)
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    return tables, differences


async def _assert_round_trip(url: str) -> None:
    tables, _ = await _inspect(url)
    assert tables == set(), "the database must start empty"

    await asyncio.to_thread(db_migrations.upgrade, url)
    tables, differences = await _inspect(url)
    assert tables == APP_TABLES | {"alembic_version"}
    assert differences == [], f"models and migrations disagree: {differences}"

    await asyncio.to_thread(db_migrations.downgrade, url, "base")
    tables, _ = await _inspect(url)
    assert tables <= {"alembic_version"}, f"left behind by downgrade: {tables}"

    await asyncio.to_thread(db_migrations.upgrade, url)
    tables, differences = await _inspect(url)
    assert tables == APP_TABLES | {"alembic_version"}
    assert differences == [], f"models and migrations disagree: {differences}"


@pytest.mark.postgres
@pytest.mark.slow
async def test_upgrade_downgrade_upgrade_on_postgresql(create_postgres_database: Any) -> None:
    url: str = await create_postgres_database("migrations_round_trip")

    await _assert_round_trip(url)


async def test_upgrade_downgrade_upgrade_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"

    await _assert_round_trip(url)


def _revision_files() -> list[Path]:
    return sorted(path for path in VERSIONS_DIR.glob("*.py") if path.name != "__init__.py")


def test_there_are_revision_files() -> None:
    assert _revision_files()


@pytest.mark.parametrize("path", _revision_files(), ids=lambda path: path.name)
def test_revision_file_is_named_by_date_and_slug(path: Path) -> None:
    match = REVISION_NAME.fullmatch(path.name)

    assert match, f"{path.name} is not YYYY_MM_DD_slug.py"
    datetime.strptime(match["date"], "%Y_%m_%d")  # a real calendar date


def _function_body(path: Path, name: str) -> list[ast.stmt]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node.body
    raise AssertionError(f"{path.name} has no {name}()")


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _does_nothing(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.Pass):
        return True
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


@pytest.mark.parametrize("path", _revision_files(), ids=lambda path: path.name)
@pytest.mark.parametrize("function", ["upgrade", "downgrade"])
def test_revision_has_a_real_upgrade_and_downgrade(path: Path, function: str) -> None:
    body = [
        statement for statement in _function_body(path, function) if not _is_docstring(statement)
    ]

    assert body, f"{path.name}: {function}() is empty"
    assert not all(_does_nothing(statement) for statement in body), (
        f"{path.name}: {function}() does nothing"
    )


def test_revisions_form_one_line_of_history() -> None:
    scripts = ScriptDirectory.from_config(db_migrations.alembic_config("sqlite+aiosqlite://"))

    assert len(scripts.get_heads()) == 1
    assert len(scripts.get_bases()) == 1
    revisions = list(scripts.walk_revisions())
    assert len(revisions) == len(_revision_files())
