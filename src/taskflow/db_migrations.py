"""Run the Alembic migrations shipped inside the package, against any database URL."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def include_object_for(dialect: str) -> Callable[[object, str | None, str, bool, object], bool]:
    """An autogenerate filter for one dialect: an index declared for another dialect only
    (`Index(...).ddl_if(dialect=...)`, like the PostgreSQL trigram indexes) is not expected."""

    def include_object(
        obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
    ) -> bool:
        ddl_if = getattr(obj, "_ddl_if", None)
        if type_ == "index" and not reflected and ddl_if is not None and ddl_if.dialect:
            return bool(ddl_if.dialect == dialect)
        return True

    return include_object


def alembic_config(database_url: str) -> Config:
    config = Config(MIGRATIONS_DIR / "alembic.ini")
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would read a '%' in a password as a placeholder.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


@dataclass(frozen=True, slots=True)
class SchemaRevisions:
    """The revisions this version's migrations know: the head, and every one before it."""

    heads: frozenset[str]
    older: frozenset[str]

    def is_current(self, stored: set[str]) -> bool:
        """Whether a database at `stored` (its alembic_version rows) can be served.

        A revision this version does not know is newer than it (migrations run before new
        workers start and only add), so the workers still running the old version serve on.
        """
        return bool(stored) and not stored & self.older


@functools.cache
def schema_revisions() -> SchemaRevisions:
    """Read from the migration scripts once per process: they do not change while it runs."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = frozenset(script.get_heads())
    known = {revision.revision for revision in script.walk_revisions()}
    return SchemaRevisions(heads=heads, older=frozenset(known - heads))


async def stored_revisions(connection: AsyncConnection) -> set[str]:
    """The revisions recorded in the database; empty when it was never migrated.

    Raises what the connection raises when the database itself fails.
    """
    try:
        rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
    except DBAPIError as error:
        if error.connection_invalidated:
            raise
        # The table is missing: `taskflow migrate` never ran against this database.
        return set()
    return {str(version) for (version,) in rows}
