"""Settings: defaults, parsing, normalisation, and one clear line for every bad value."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from taskflow import config
from taskflow.config import (
    MIN_SECRET_KEY_LENGTH,
    ConfigurationError,
    Settings,
    half_the_cores,
    load_settings,
)

# Made as the README's production instructions make one.
LONG_SECRET = secrets.token_urlsafe(48)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No variable of the caller's shell and no .env of the checkout reaches these tests."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config_error(monkeypatch: pytest.MonkeyPatch, **variables: str) -> str:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message, message
    return message


# --- defaults ----------------------------------------------------------------------------


def test_defaults_match_the_documented_values() -> None:
    settings = load_settings()

    assert settings.environment == "development"
    assert settings.database_url == "sqlite+aiosqlite:///./taskflow.db"
    assert settings.is_sqlite
    assert settings.redis_url is None
    assert settings.access_token_expire_minutes == 15
    assert settings.refresh_token_expire_days == 7
    assert settings.password_reset_expire_minutes == 60
    assert settings.lockout_threshold == 5
    assert settings.lockout_minutes == 15
    assert settings.email_backend == "console"
    assert settings.smtp_starttls is False
    assert settings.smtp_ssl is False
    assert settings.log_level == "INFO"
    assert settings.cors_origins == []
    assert settings.password_hash_concurrency == half_the_cores()
    assert settings.redis_timeout_seconds == 0.25
    assert settings.redis_retry_seconds == 1
    assert settings.redis_failure_threshold == 3


@pytest.mark.parametrize(("cores", "hashes"), [(None, 1), (1, 1), (2, 1), (3, 1), (8, 4)])
def test_password_hashing_takes_at_most_half_the_cores_by_default(
    monkeypatch: pytest.MonkeyPatch, cores: int | None, hashes: int
) -> None:
    monkeypatch.setattr(config.os, "cpu_count", lambda: cores)
    assert load_settings().password_hash_concurrency == hashes
    monkeypatch.setenv("PASSWORD_HASH_CONCURRENCY", "6")
    assert load_settings().password_hash_concurrency == 6


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_TOKEN_EXPIRE_MINUTES", "30")
    monkeypatch.setenv("LOCKOUT_THRESHOLD", "3")
    monkeypatch.setenv("SMTP_STARTTLS", "true")
    monkeypatch.setenv("LOG_LEVEL", "debug")

    settings = load_settings()

    assert settings.access_token_expire_minutes == 30
    assert settings.lockout_threshold == 3
    assert settings.smtp_starttls is True
    assert settings.log_level == "DEBUG"


def test_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKOUT_THRESHOLD", "")

    assert load_settings().lockout_threshold == 5


# --- bad values --------------------------------------------------------------------------


def test_non_numeric_value_fails_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = config_error(monkeypatch, LOCKOUT_THRESHOLD="abc")

    assert "LOCKOUT_THRESHOLD" in message
    assert "abc" not in message


def test_out_of_range_value_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(monkeypatch, ACCESS_TOKEN_EXPIRE_MINUTES="0")

    assert "ACCESS_TOKEN_EXPIRE_MINUTES" in message


def test_several_bad_values_are_all_named_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(monkeypatch, LOCKOUT_THRESHOLD="abc", SMTP_PORT="70000")

    assert "LOCKOUT_THRESHOLD" in message
    assert "SMTP_PORT" in message


def test_bad_value_with_a_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(monkeypatch, DATABASE_URL="mysql://app:hunter2-secret@db/taskflow")

    assert "DATABASE_URL" in message
    assert "hunter2-secret" not in message


def test_unknown_environment_fails_naming_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(monkeypatch, ENVIRONMENT="staging")

    assert "ENVIRONMENT" in message


def test_bad_redis_url_fails_naming_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(monkeypatch, REDIS_URL="http://cache:6379")

    assert "REDIS_URL" in message


# --- SECRET_KEY --------------------------------------------------------------------------


def test_production_without_secret_key_fails_naming_secret_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = config_error(monkeypatch, ENVIRONMENT="production")

    assert "SECRET_KEY" in message


def test_production_with_short_secret_key_fails_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short = "tooshort-but-secret"
    message = config_error(monkeypatch, ENVIRONMENT="production", SECRET_KEY=short)

    assert "SECRET_KEY" in message
    assert short not in message


def test_production_with_long_secret_key_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", LONG_SECRET)

    settings = load_settings()

    assert settings.jwt_secret == LONG_SECRET
    assert settings.secret_key_generated is False


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("s" * 32, id="one-character"),
        pytest.param("ab" * 32, id="two-characters"),
        pytest.param("0123456789" * 4, id="ten-digits-repeated"),
        pytest.param("changeme" * 4, id="changeme"),
        pytest.param("CHANGE-ME-" * 4, id="change-me-upper-case"),
        pytest.param("your-secret-key-" * 3, id="your-secret-key"),
        pytest.param("supersecretkey-please-change-me-0001", id="words-and-digits"),
        pytest.param("taskflow_jwt_signing_secret_key_here", id="taskflow-sample"),
    ],
)
def test_production_refuses_a_guessable_secret_key_with_one_line(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    message = config_error(monkeypatch, ENVIRONMENT="production", SECRET_KEY=key)

    assert message.startswith("invalid configuration: SECRET_KEY ")
    assert key not in message


def test_a_long_random_number_is_judged_by_its_entropy_not_as_a_placeholder() -> None:
    assert config.weak_secret_key("7305918264" + "4829103756" + "1640382957" + "9051736248") is None


def test_production_accepts_keys_made_as_the_readme_says() -> None:
    for _ in range(200):
        key = secrets.token_urlsafe(48)
        assert config.weak_secret_key(key) is None, key
    assert config.estimated_key_bits("s" * 64) == 0
    assert config.estimated_key_bits("ab" * 32) == 64


def test_development_accepts_a_weak_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "changeme")

    assert load_settings().jwt_secret == "changeme"


def test_development_without_secret_key_generates_a_random_one() -> None:
    first = load_settings()
    second = load_settings()

    assert first.secret_key_generated is True
    assert len(first.jwt_secret) >= MIN_SECRET_KEY_LENGTH
    assert first.jwt_secret != second.jwt_secret


def test_given_secret_key_is_used_and_not_marked_generated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECRET_KEY", "short-is-fine-in-development")

    settings = load_settings()

    assert settings.jwt_secret == "short-is-fine-in-development"
    assert settings.secret_key_generated is False
    assert "short-is-fine-in-development" not in repr(settings)


# --- parsing and normalisation -----------------------------------------------------------


def test_cors_origins_split_on_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example,,")

    assert load_settings().cors_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgresql://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgresql+asyncpg://u:p@db/app", "postgresql+asyncpg://u:p@db/app"),
        ("sqlite:///./data.db", "sqlite+aiosqlite:///./data.db"),
    ],
)
def test_database_url_is_normalised_to_the_async_driver(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)

    assert load_settings().database_url == expected


@pytest.mark.parametrize("url", ["mysql://db/app", "postgresql+psycopg2://db/app", "no-scheme"])
def test_unknown_database_scheme_fails_naming_database_url(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    message = config_error(monkeypatch, DATABASE_URL=url)

    assert "DATABASE_URL" in message


# --- email -------------------------------------------------------------------------------


def test_smtp_backend_without_host_fails_naming_smtp_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = config_error(monkeypatch, EMAIL_BACKEND="smtp")

    assert "SMTP_HOST" in message


def test_smtp_backend_with_host_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_BACKEND", "smtp")
    monkeypatch.setenv("SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("SMTP_PASSWORD", "mail-secret")

    settings = load_settings()

    assert settings.email_backend == "smtp"
    assert settings.smtp_host == "mail.example.com"
    assert settings.smtp_password is not None
    assert "mail-secret" not in repr(settings)


def test_smtp_ssl_and_starttls_together_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(monkeypatch, SMTP_SSL="true", SMTP_STARTTLS="true")

    assert "SMTP_SSL" in message
    assert "SMTP_STARTTLS" in message


def test_unknown_email_backend_fails_naming_email_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = config_error(monkeypatch, EMAIL_BACKEND="sendmail")

    assert "EMAIL_BACKEND" in message


# --- logging -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "expected"),
    [("development", "console"), ("test", "json"), ("production", "json")],
)
def test_log_format_defaults_by_environment(
    monkeypatch: pytest.MonkeyPatch, environment: str, expected: str
) -> None:
    monkeypatch.setenv("ENVIRONMENT", environment)
    monkeypatch.setenv("SECRET_KEY", LONG_SECRET)

    assert load_settings().log_format == expected


def test_explicit_log_format_wins_over_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")

    assert load_settings().log_format == "json"


def test_bad_log_level_fails_naming_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(monkeypatch, LOG_LEVEL="LOUD")

    assert "LOG_LEVEL" in message


# --- .env file ---------------------------------------------------------------------------


def test_values_are_read_from_a_dotenv_file_in_the_working_directory(
    clean_environment: Path,
) -> None:
    (clean_environment / ".env").write_text(
        "LOCKOUT_THRESHOLD=9\nCORS_ORIGINS=https://app.example\nDATABASE_URL=postgres://db/app\n",
        encoding="utf-8",
    )

    settings = load_settings()

    assert settings.lockout_threshold == 9
    assert settings.cors_origins == ["https://app.example"]
    assert settings.database_url == "postgresql+asyncpg://db/app"


def test_environment_variable_wins_over_the_dotenv_file(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_environment / ".env").write_text("LOCKOUT_THRESHOLD=9\n", encoding="utf-8")
    monkeypatch.setenv("LOCKOUT_THRESHOLD", "4")

    assert load_settings().lockout_threshold == 4


def test_explicit_env_file_is_read(tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text("ACCESS_TOKEN_EXPIRE_MINUTES=45\n", encoding="utf-8")

    assert Settings(_env_file=env_file).access_token_expire_minutes == 45  # type: ignore[call-arg]


def test_bad_value_in_dotenv_file_fails_naming_the_variable(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text("LOCKOUT_MINUTES=forever\n", encoding="utf-8")

    with pytest.raises(ConfigurationError, match="LOCKOUT_MINUTES"):
        load_settings()
