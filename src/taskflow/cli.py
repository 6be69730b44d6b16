"""The `taskflow` command: serve, migrate, create-admin, seed-demo."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import tempfile
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import structlog
import typer
import uvicorn
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from starlette.background import BackgroundTasks

from taskflow import db_migrations, demo
from taskflow.config import ConfigurationError, Settings, get_settings, load_settings
from taskflow.core.db import Database
from taskflow.core.email import Mailer, create_email_sender
from taskflow.core.logging import configure_logging
from taskflow.core.security import PasswordHasher
from taskflow.main import create_app
from taskflow.users import service as users_service
from taskflow.users.models import Role, User, normalise_email
from taskflow.users.schemas import Email, FullName, Password

app = typer.Typer(help="TaskFlow: task and project management API.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)
log = structlog.get_logger("taskflow.cli")


def _settings(*, secret_key_needed: bool = True) -> Settings:
    try:
        settings = get_settings() if secret_key_needed else load_settings(secret_key_needed=False)
    except ConfigurationError as error:
        console.print(f"[red]taskflow: {error}[/red]", highlight=False)
        raise typer.Exit(code=2) from None
    configure_logging(level=settings.log_level, json_format=settings.log_format == "json")
    return settings


def _say(settings: Settings, text: str, event: str, **fields: object) -> None:
    """A line for the operator: plain text on a console, a log line where logs are JSON."""
    if settings.log_format == "json":
        log.info(event, **fields)
    else:
        console.print(text, highlight=False)


async def _stored_revisions(settings: Settings) -> set[str] | None:
    """The database's revisions; None when the database does not answer."""
    database = Database(settings)
    try:
        async with database.engine.connect() as connection:
            return await db_migrations.stored_revisions(connection)
    except Exception as error:
        log.warning("database_unavailable_at_start", error=type(error).__name__)
        return None
    finally:
        await database.dispose()


def _warn_unless_migrated(settings: Settings) -> None:
    stored = asyncio.run(_stored_revisions(settings))
    revisions = db_migrations.schema_revisions()
    if stored is None or revisions.is_current(stored):
        return
    log.warning(
        "migrations_pending",
        database_revision=sorted(stored) or None,
        expected=sorted(revisions.heads),
        detail="the database is not at this version's schema: run `taskflow migrate`; "
        "/health answers 503 until then",
    )


def _validated(kind: Any, value: str, label: str) -> str:
    """Check a command-line value against the same type the API uses."""
    try:
        return str(TypeAdapter(kind).validate_python(value))
    except ValidationError as error:
        message = error.errors()[0]["msg"].removeprefix("Value error, ")
        console.print(f"[red]taskflow: {label}: {message}[/red]", highlight=False)
        raise typer.Exit(code=2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development)")] = False,
) -> None:
    """Serve the API with uvicorn. SIGTERM stops accepting, finishes the requests in flight
    (for up to GRACEFUL_SHUTDOWN_SECONDS), closes the pools and exits 0."""
    settings = _settings()
    # Said once, before the workers start: every request would fail on a missing table.
    _warn_unless_migrated(settings)
    if settings.secret_key_generated:
        # Every worker (and every reload) must sign tokens with the same key.
        os.environ["SECRET_KEY"] = settings.jwt_secret
    share_metrics = (
        workers > 1
        and not reload
        and settings.metrics_enabled
        and settings.prometheus_multiproc_dir is None
    )
    with (
        tempfile.TemporaryDirectory(prefix="taskflow-metrics-")
        if share_metrics
        else contextlib.nullcontext()
    ) as metrics_dir:
        if metrics_dir is not None:
            # Workers write their metrics here so that a scrape of any one sums them all.
            # prometheus-client reads the variable when it is imported, which in the
            # workers (fresh processes that inherit this environment) is after this point.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            _say(
                settings,
                f"Metrics of the {workers} workers are gathered in {metrics_dir}",
                "metrics_shared",
                workers=workers,
                directory=metrics_dir,
            )
        # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done, which
        # would end the process "killed by SIGTERM"; the work is done by then, so it is
        # ignored and serve returns normally with exit code 0.
        signal.signal(signal.SIGTERM, _ignore_signal)
        uvicorn.run(
            "taskflow.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=None if reload else workers,
            reload=reload,
            access_log=False,
            log_config=None,
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=math.ceil(settings.graceful_shutdown_seconds),
        )


def _ignore_signal(_signum: int, _frame: FrameType | None) -> None:
    return None


@app.command()
def migrate(
    downgrade: Annotated[
        str | None, typer.Option(help="Revision to downgrade to (e.g. -1 or base)")
    ] = None,
) -> None:
    """Apply the database migrations (upgrade to head), or downgrade to a revision."""
    # Migrations sign nothing: SECRET_KEY may be left out, even in production.
    settings = _settings(secret_key_needed=False)
    if downgrade:
        db_migrations.downgrade(settings.database_url, downgrade)
        _say(settings, f"Downgraded to {downgrade}.", "migrated", revision=downgrade)
    else:
        db_migrations.upgrade(settings.database_url)
        _say(settings, "Database is at the latest revision.", "migrated", revision="head")


async def _create_user(
    settings: Settings, *, email: str, password: str, full_name: str, role: Role
) -> User | None:
    """Create a verified user unless the email is taken; None when it already exists."""
    database = Database(settings)
    background = BackgroundTasks()
    try:
        async with database.sessionmaker() as session:
            if await users_service.email_exists(session=session, email=normalise_email(email)):
                return None
            user = await users_service.create_user(
                session=session,
                hasher=PasswordHasher(settings.password_hash_concurrency),
                settings=settings,
                mailer=Mailer(create_email_sender(settings), background),
                email=email,
                password=password,
                full_name=full_name,
                role=role,
                verified=True,
            )
            await session.commit()
        await background()
        return user
    finally:
        await database.dispose()


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="Login email of the admin")],
    full_name: Annotated[str, typer.Option("--full-name", help="Display name")],
    password: Annotated[
        str | None, typer.Option(help="Password; asked for (hidden) when left out")
    ] = None,
) -> None:
    """Create an administrator account."""
    settings = _settings()
    email = _validated(Email, email, "--email")
    full_name = _validated(FullName, full_name, "--full-name")
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    password = _validated(Password, password, "--password")
    user = asyncio.run(
        _create_user(settings, email=email, password=password, full_name=full_name, role=Role.ADMIN)
    )
    if user is None:
        console.print(f"[red]taskflow: a user with email {email} already exists[/red]")
        raise typer.Exit(code=1)
    console.print(f"Created admin {user.email} (id {user.id}).")


@app.command("openapi")
def openapi_document(
    output: Annotated[
        Path | None, typer.Option(help="File to write; the document goes to stdout without it")
    ] = None,
) -> None:
    """Print the OpenAPI document of this version (as /openapi.json serves it)."""

    document = create_app(openapi_settings()).openapi()
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"Wrote {output}.")


def openapi_settings() -> Settings:
    """Settings that do not change the document: it is the same whatever the environment."""
    return load_settings(_env_file=None, environment="test", docs_enabled=True, secret_key="x" * 32)


@app.command("seed-demo")
def seed_demo() -> None:
    """Create demo users, shared projects and tasks to try the API with. What exists is
    skipped, and an existing account is never changed nor given demo data."""
    settings = _settings()
    report = asyncio.run(demo.seed(settings))
    for line in [*report.lines, *report.summary()]:
        console.print(line, highlight=False)


if __name__ == "__main__":  # pragma: no cover
    app()
