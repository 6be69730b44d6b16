"""Run the Alembic migrations shipped inside the package, against any database URL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config

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
