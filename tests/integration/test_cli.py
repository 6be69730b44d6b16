"""The `taskflow` command against a fresh SQLite file: migrate, create-admin, seed-demo."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from taskflow.cli import app
from taskflow.config import Settings, get_settings
from taskflow.core.security import password_hash
from taskflow.demo import DEMO_PASSWORD, DEMO_PROJECTS, DEMO_USERS
from taskflow.models import Base

CLI_SECRET_KEY = "cli-test-secret-key-that-is-long-enough-0123456789"
APP_TABLES = set(Base.metadata.tables)


@pytest.fixture(autouse=True)
def cli_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A fresh SQLite file as DATABASE_URL, and settings read anew for this test alone."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the checkout is read
    # Output goes to a pipe, not a terminal, as under systemd or docker: no width from the shell.
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
    database = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("SECRET_KEY", CLI_SECRET_KEY)
    monkeypatch.setenv("EMAIL_BACKEND", "console")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    yield database
    get_settings.cache_clear()


@pytest.fixture
def database(cli_environment: Path) -> Path:
    return cli_environment


@pytest.fixture
def migrated(database: Path) -> Path:
    result = run("migrate")
    assert result.exit_code == 0, result.output
    return database


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows if not name.startswith("sqlite_")}


def users(database: Path) -> dict[str, dict[str, object]]:
    connection = sqlite3.connect(database)
    connection.row_factory = sqlite3.Row
    try:
        rows = connection.execute(
            "SELECT email, full_name, role, is_active, is_verified, password_hash FROM users"
        ).fetchall()
    finally:
        connection.close()
    return {row["email"]: dict(row) for row in rows}


def lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


# --- migrate -----------------------------------------------------------------------------


def test_migrate_creates_the_schema(monkeypatch: pytest.MonkeyPatch, database: Path) -> None:
    monkeypatch.setenv("LOG_FORMAT", "console")

    result = run("migrate")

    assert result.exit_code == 0, result.output
    assert "latest revision" in result.output
    assert tables(database) == APP_TABLES | {"alembic_version"}


def test_migrate_twice_is_harmless(migrated: Path) -> None:
    result = run("migrate")

    assert result.exit_code == 0, result.output
    assert tables(migrated) == APP_TABLES | {"alembic_version"}


def test_migrate_downgrade_base_removes_the_schema(
    monkeypatch: pytest.MonkeyPatch, migrated: Path
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "console")

    result = run("migrate", "--downgrade", "base")

    assert result.exit_code == 0, result.output
    assert "Downgraded to base" in result.output
    assert tables(migrated) <= {"alembic_version"}


@pytest.mark.parametrize("command", [["migrate"], ["migrate", "--downgrade", "base"]])
def test_migrate_with_json_logs_writes_only_json_lines(
    monkeypatch: pytest.MonkeyPatch, migrated: Path, command: list[str]
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("LOG_LEVEL", "INFO")

    result = run(*command)

    assert result.exit_code == 0, result.output
    events = [json.loads(line)["event"] for line in lines(result.output)]
    assert events[-1] == "migrated"


# --- create-admin ------------------------------------------------------------------------


def test_create_admin_creates_a_verified_active_admin(migrated: Path) -> None:
    result = run(
        "create-admin",
        "--email",
        "Root@Example.com",
        "--password",
        "admin-pass-1",
        "--full-name",
        "  Root Admin ",
    )

    assert result.exit_code == 0, result.output
    assert "root@example.com" in result.output
    stored = users(migrated)
    assert set(stored) == {"root@example.com"}
    admin = stored["root@example.com"]
    assert admin["role"] == "admin"
    assert admin["is_verified"] == 1
    assert admin["is_active"] == 1
    assert admin["full_name"] == "Root Admin"
    hashed = str(admin["password_hash"])
    assert hashed.startswith("$argon2id$")
    assert password_hash.verify("admin-pass-1", hashed)


def test_create_admin_with_a_taken_email_exits_1(migrated: Path) -> None:
    first = run(
        "create-admin", "--email", "root@example.com", "--password", "admin-pass-1",
        "--full-name", "Root",
    )  # fmt: skip
    assert first.exit_code == 0, first.output

    second = run(
        "create-admin", "--email", "ROOT@example.com", "--password", "other-pass-2",
        "--full-name", "Another",
    )  # fmt: skip

    assert second.exit_code == 1, second.output
    assert "already exists" in second.output
    stored = users(migrated)
    assert list(stored) == ["root@example.com"]
    assert stored["root@example.com"]["full_name"] == "Root"


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("onlyletters", "letter and one digit"),
        ("12345678", "letter and one digit"),
        ("abc1", "at least 8 characters"),
        ("a1" * 65, "at most 128 characters"),
    ],
)
def test_create_admin_with_a_password_failing_the_policy_exits_2(
    migrated: Path, password: str, problem: str
) -> None:
    result = run(
        "create-admin", "--email", "root@example.com", "--password", password,
        "--full-name", "Root",
    )  # fmt: skip

    assert result.exit_code == 2, result.output
    assert "--password" in result.output
    assert problem in result.output
    assert password not in result.output
    assert users(migrated) == {}


def test_create_admin_with_an_invalid_email_exits_2(migrated: Path) -> None:
    result = run(
        "create-admin", "--email", "not-an-email", "--password", "admin-pass-1",
        "--full-name", "Root",
    )  # fmt: skip

    assert result.exit_code == 2, result.output
    assert "--email" in result.output
    assert users(migrated) == {}


def test_create_admin_with_a_blank_name_exits_2(migrated: Path) -> None:
    result = run(
        "create-admin", "--email", "root@example.com", "--password", "admin-pass-1",
        "--full-name", "   ",
    )  # fmt: skip

    assert result.exit_code == 2, result.output
    assert "--full-name" in result.output
    assert users(migrated) == {}


def test_create_admin_prompts_for_a_left_out_password(migrated: Path) -> None:
    result = run(
        "create-admin",
        "--email",
        "prompted@example.com",
        "--full-name",
        "Prompted",
        input="secret123\nsecret123\n",
    )

    assert result.exit_code == 0, result.output
    assert "Password" in result.output
    assert "secret123" not in result.output  # the prompt hides what is typed
    stored = users(migrated)["prompted@example.com"]
    assert stored["role"] == "admin"
    assert password_hash.verify("secret123", str(stored["password_hash"]))


def test_create_admin_checks_a_prompted_password_against_the_policy(migrated: Path) -> None:
    result = run(
        "create-admin",
        "--email",
        "prompted@example.com",
        "--full-name",
        "Prompted",
        input="weakpassword\nweakpassword\n",
    )

    assert result.exit_code == 2, result.output
    assert "letter and one digit" in result.output
    assert users(migrated) == {}


# --- seed-demo ---------------------------------------------------------------------------


def test_seed_demo_creates_the_demo_users(migrated: Path) -> None:
    result = run("seed-demo")

    assert result.exit_code == 0, result.output
    stored = users(migrated)
    assert set(stored) == {email for email, _, _ in DEMO_USERS}
    for email, full_name, role in DEMO_USERS:
        assert stored[email]["full_name"] == full_name
        assert stored[email]["role"] == role.value
        assert stored[email]["is_verified"] == 1
        assert password_hash.verify(DEMO_PASSWORD, str(stored[email]["password_hash"]))
    assert result.output.count("created") == len(DEMO_USERS) + len(DEMO_PROJECTS)


def test_seed_demo_creates_shared_projects_with_tasks_in_every_state(migrated: Path) -> None:
    result = run("seed-demo")

    assert result.exit_code == 0, result.output
    with sqlite3.connect(migrated) as connection:
        projects = dict(connection.execute("SELECT name, id FROM projects"))
        members = connection.execute("SELECT count(*) FROM project_members").fetchone()[0]
        done = connection.execute(
            "SELECT count(*) FROM tasks WHERE is_completed AND completed_at IS NOT NULL"
        ).fetchone()[0]
        overdue = connection.execute(
            "SELECT count(*) FROM tasks WHERE NOT is_completed AND due_date < datetime('now')"
        ).fetchone()[0]
        pending = connection.execute(
            "SELECT count(*) FROM tasks WHERE NOT is_completed"
            " AND (due_date IS NULL OR due_date >= datetime('now'))"
        ).fetchone()[0]
        assigned = connection.execute(
            "SELECT count(*) FROM tasks WHERE assignee_id IS NOT NULL"
        ).fetchone()[0]
        subtasks = connection.execute(
            "SELECT count(*) FROM tasks WHERE parent_id IS NOT NULL"
        ).fetchone()[0]
        labelled = connection.execute("SELECT count(DISTINCT task_id) FROM task_labels").fetchone()[
            0
        ]
    assert subtasks > 0 and labelled > 0
    assert set(projects) == {spec.name for spec in DEMO_PROJECTS}
    assert members == sum(len(spec.members) for spec in DEMO_PROJECTS)
    assert done > 0 and overdue > 0 and pending > 0 and assigned > 0


def test_seed_demo_comments_on_tasks_and_counts_the_comments(migrated: Path) -> None:
    result = run("seed-demo")

    assert result.exit_code == 0, result.output
    expected = {task.title: len(task.comments) for spec in DEMO_PROJECTS for task in spec.tasks}
    with sqlite3.connect(migrated) as connection:
        counted = dict(connection.execute("SELECT title, comment_count FROM tasks"))
        rows = dict(
            connection.execute(
                "SELECT tasks.title, count(comments.id) FROM tasks"
                " LEFT JOIN comments ON comments.task_id = tasks.id GROUP BY tasks.title"
            )
        )
        events = connection.execute(
            "SELECT count(*) FROM activity_events WHERE type = 'comment.created'"
        ).fetchone()[0]
    assert counted == rows == expected
    assert sum(expected.values()) == events > 0


def test_seed_demo_is_idempotent(migrated: Path) -> None:
    first = run("seed-demo")
    assert first.exit_code == 0, first.output
    hashes_before = {email: row["password_hash"] for email, row in users(migrated).items()}

    second = run("seed-demo")

    assert second.exit_code == 0, second.output
    assert second.output.count("exists") == len(DEMO_USERS) + len(DEMO_PROJECTS)
    assert "created" not in second.output
    with sqlite3.connect(migrated) as connection:
        task_count = connection.execute("SELECT count(*) FROM tasks").fetchone()[0]
    assert task_count == sum(len(spec.tasks) for spec in DEMO_PROJECTS)
    hashes_after = {email: row["password_hash"] for email, row in users(migrated).items()}
    assert hashes_after == hashes_before


def test_seed_demo_never_touches_an_existing_account_with_a_demo_email(migrated: Path) -> None:
    """A real user who happens to have a demo email keeps the account as it is, is given no
    demo project, membership or task, and is not told the demo password works for them."""
    made = run(
        "create-admin",
        "--email",
        "alice@example.com",
        "--password",
        "alices-own-pass-1",
        "--full-name",
        "Alice Real",
    )
    assert made.exit_code == 0, made.output
    before = users(migrated)["alice@example.com"]

    result = run("seed-demo")

    assert result.exit_code == 0, result.output
    assert users(migrated)["alice@example.com"] == before
    with sqlite3.connect(migrated) as connection:
        (alice_id,) = connection.execute(
            "SELECT id FROM users WHERE email = 'alice@example.com'"
        ).fetchone()
        owned = connection.execute(
            "SELECT count(*) FROM projects WHERE owner_id = ?", (alice_id,)
        ).fetchone()[0]
        memberships = connection.execute(
            "SELECT count(*) FROM project_members WHERE user_id = ?", (alice_id,)
        ).fetchone()[0]
        assigned = connection.execute(
            "SELECT count(*) FROM tasks WHERE assignee_id = ?", (alice_id,)
        ).fetchone()[0]
        projects = {name for (name,) in connection.execute("SELECT name FROM projects")}
    assert (owned, memberships, assigned) == (0, 0, 0)
    # Owned by alice in the demo: left out. Owned by bob: made, without alice in it.
    assert projects == {"Office move"}
    output = lines(result.output)
    assert any("alice@example.com" in line and "left as it is" in line for line in output)
    assert any("Website relaunch" in line and "skipped" in line for line in output)
    password_lines = [line for line in output if DEMO_PASSWORD in line]
    assert len(password_lines) == 1
    assert "alice@example.com" not in password_lines[0]
    for email in ("admin@example.com", "bob@example.com", "carol@example.com"):
        assert email in password_lines[0]
        assert password_hash.verify(DEMO_PASSWORD, str(users(migrated)[email]["password_hash"]))


def test_seed_demo_run_again_claims_no_password(migrated: Path) -> None:
    assert run("seed-demo").exit_code == 0

    again = run("seed-demo")

    assert again.exit_code == 0, again.output
    assert DEMO_PASSWORD not in again.output


# --- bad configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["migrate"],
        ["migrate", "--downgrade", "base"],
        ["seed-demo"],
        [
            "create-admin",
            "--email",
            "a@example.com",
            "--password",
            "admin-pass-1",
            "--full-name",
            "A",
        ],
        ["serve"],
    ],
    ids=lambda command: "-".join(command[:2]),
)
def test_bad_configuration_exits_2_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, database: Path, command: list[str]
) -> None:
    monkeypatch.setenv("LOCKOUT_THRESHOLD", "abc")

    result = run(*command)

    assert result.exit_code == 2, result.output
    output = lines(result.output)
    assert len(output) == 1, result.output
    assert "LOCKOUT_THRESHOLD" in output[0]
    assert "Traceback" not in result.output
    assert not database.exists()


def test_migrate_in_production_needs_no_secret_key(
    monkeypatch: pytest.MonkeyPatch, database: Path
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("SECRET_KEY")

    result = run("migrate")

    assert result.exit_code == 0, result.output
    assert tables(database) >= APP_TABLES


@pytest.mark.parametrize("command", [["serve"], ["seed-demo"]], ids=lambda c: c[0])
def test_production_without_secret_key_exits_2_naming_secret_key(
    monkeypatch: pytest.MonkeyPatch, database: Path, command: list[str]
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("SECRET_KEY")

    result = run(*command)

    assert result.exit_code == 2, result.output
    output = lines(result.output)
    assert len(output) == 1, result.output
    assert "SECRET_KEY" in output[0]
    assert not database.exists()
