"""Typed settings, read from the environment and an optional .env file."""

from __future__ import annotations

import ipaddress
import math
import os
import re
import secrets
from collections import Counter
from contextvars import ContextVar
from functools import lru_cache
from typing import Annotated, Literal

import limits
from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BeforeValidator,
    EmailStr,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["development", "test", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

_DATABASE_SCHEMES = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
MIN_SECRET_KEY_LENGTH = 32
# Estimated from the key's own characters (Shannon entropy times length): a random key of
# the README's recipe has over 300 bits, "s" * 32 has none, "changeme" * 4 has 88.
MIN_SECRET_KEY_BITS = 128
# Words of sample keys; a key made only of them (and digits) is a placeholder left in place.
_PLACEHOLDER_WORDS = (
    "changeme|change|replace|please|your|my|the|this|me|secret|secrets|key|jwt|token|"
    "signing|super|password|passwd|default|example|sample|test|testing|dev|development|"
    "prod|production|insecure|unsafe|dummy|fake|placeholder|todo|fixme|taskflow|app|api|"
    "here|value|string|random|[0-9]"
)
_PLACEHOLDER_KEY = re.compile(f"(?:{_PLACEHOLDER_WORDS})+")
# Off for commands that sign nothing (`taskflow migrate`), so they need no SECRET_KEY.
_SECRET_KEY_NEEDED: ContextVar[bool] = ContextVar("secret_key_needed", default=True)


def estimated_key_bits(key: str) -> float:
    """Shannon entropy of the key's characters times its length: what the key would hold if
    its characters were drawn at random with the frequencies they have."""
    counts = Counter(key).values()
    return -sum(count * math.log2(count / len(key)) for count in counts)


def weak_secret_key(key: str) -> str | None:
    """Why this key is too weak for production, or None when it is not."""
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"must be at least {MIN_SECRET_KEY_LENGTH} characters"
    words = re.sub(r"[^a-z0-9]", "", key.lower())
    # Digits alone are judged by their entropy: a long random number is a fine key.
    if not words.isdigit() and _PLACEHOLDER_KEY.fullmatch(words):
        return "is a placeholder; generate a random key (see the README)"
    if (key + key).find(key, 1) < len(key):
        return "repeats a shorter pattern; generate a random key (see the README)"
    if estimated_key_bits(key) < MIN_SECRET_KEY_BITS:
        return (
            f"has too little entropy (under {MIN_SECRET_KEY_BITS} bits); generate a random "
            "key (see the README)"
        )
    return None


def half_the_cores() -> int:
    """The default of PASSWORD_HASH_CONCURRENCY: logins may take at most half of the
    machine's cores from the requests being served, and always at least one."""
    return max(1, (os.cpu_count() or 1) // 2)


def _check_rate_limit(value: str) -> str:
    """A `limits` rate ("10/minute", "100 per hour"), or "0"/"off" to switch it off."""
    value = value.strip()
    if value.lower() in RATE_LIMIT_OFF:
        return "off"
    try:
        limits.parse(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a rate like '10/minute', or 'off'") from None
    return value


RATE_LIMIT_OFF = frozenset({"0", "off"})
RateLimit = Annotated[str, AfterValidator(_check_rate_limit)]


def _parse_network(value: object) -> object:
    if isinstance(value, str):
        try:
            return ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network") from None
    return value


IPNetwork = Annotated[
    ipaddress.IPv4Network | ipaddress.IPv6Network, BeforeValidator(_parse_network)
]


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class ConfigurationError(Exception):
    """Raised when the environment holds a value TaskFlow cannot run with."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,
        validate_default=True,
    )

    environment: Environment = "development"
    database_url: str = "sqlite+aiosqlite:///./taskflow.db"
    redis_url: str | None = None
    secret_key: SecretStr | None = None

    access_token_expire_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_expire_days: int = Field(default=7, ge=1, le=365)
    password_reset_expire_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    email_verification_expire_hours: int = Field(default=48, ge=1, le=30 * 24)
    lockout_threshold: int = Field(default=5, ge=1, le=1000)
    lockout_minutes: int = Field(default=15, ge=1, le=7 * 24 * 60)
    jwt_issuer: str = "taskflow"
    jwt_audience: str = "taskflow-api"
    password_hash_concurrency: int = Field(default_factory=half_the_cores, ge=1, le=64)

    email_backend: Literal["console", "smtp"] = "console"
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    email_from: EmailStr = "TaskFlow <no-reply@taskflow.example.com>"
    frontend_url: AnyHttpUrl = AnyHttpUrl("http://localhost:3000")

    log_level: LogLevel = "INFO"
    log_format: Literal["json", "console"] | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    db_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    db_command_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Long enough that a busy worker reading a healthy Redis never waits it out.
    redis_timeout_seconds: float = Field(default=0.25, gt=0, le=30)
    redis_retry_seconds: float = Field(default=1.0, ge=0, le=300)
    # Timeouts in a row before Redis is marked down; a refused connection marks it at once.
    redis_failure_threshold: int = Field(default=3, ge=1, le=100)
    health_check_timeout_seconds: float = Field(default=2.0, gt=0, le=30)

    cache_ttl_seconds: int = Field(default=60, ge=1, le=24 * 3600)
    # False: GET answers are not cached in Redis; who a token belongs to still is.
    cache_reads: bool = True
    # Every Redis key starts with it, so deployments (or test runs) can share one Redis.
    redis_key_prefix: str = Field(default="taskflow", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    rate_limit_login: RateLimit = "10/minute"
    rate_limit_register: RateLimit = "5/minute"
    rate_limit_password_reset: RateLimit = "5/hour"  # noqa: S105 - a rate, not a secret
    rate_limit_default: RateLimit = "600/minute"
    trusted_proxies: Annotated[list[IPNetwork], NoDecode] = Field(default_factory=list)

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024**3)
    trusted_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    docs_enabled: bool | None = None
    metrics_enabled: bool = True
    # FastAPI's own OpenTelemetry spans, metrics and logs, sent to the providers an
    # OpenTelemetry SDK set up in the process. Off by default: TaskFlow has its own metrics,
    # and when on, every request looks the providers up.
    otel_enabled: bool = False
    prometheus_multiproc_dir: str | None = None
    graceful_shutdown_seconds: float = Field(default=30.0, gt=0, le=3600)

    # Set when no SECRET_KEY was given and a random one was made for this process.
    secret_key_generated: bool = Field(default=False, exclude=True)

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in _DATABASE_SCHEMES:
            raise ValueError("must start with postgresql+asyncpg:// or sqlite+aiosqlite://")
        return f"{_DATABASE_SCHEMES[scheme]}://{rest}"

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(_REDIS_SCHEMES):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("cors_origins", "trusted_proxies", "trusted_hosts", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("trusted_hosts")
    @classmethod
    def _check_host_patterns(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if "*" in host and host != "*" and not (host.startswith("*.") and "*" not in host[1:]):
                raise ValueError(f"{host!r}: a wildcard must be '*' or like '*.example.com'")
        return hosts

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        checked = self.environment == "production" and _SECRET_KEY_NEEDED.get()
        if self.secret_key is None:
            if checked:
                raise ValueError("SECRET_KEY is required when ENVIRONMENT=production")
            self.secret_key = SecretStr(secrets.token_urlsafe(48))
            self.secret_key_generated = True
        elif checked and (weakness := weak_secret_key(self.secret_key.get_secret_value())):
            raise ValueError(f"SECRET_KEY {weakness}")
        if self.email_backend == "smtp" and not self.smtp_host:
            raise ValueError("SMTP_HOST is required when EMAIL_BACKEND=smtp")
        if self.smtp_ssl and self.smtp_starttls:
            raise ValueError("SMTP_SSL and SMTP_STARTTLS cannot both be true")
        if self.log_format is None:
            self.log_format = "console" if self.environment == "development" else "json"
        return self

    @property
    def serve_docs(self) -> bool:
        """/docs and /openapi.json: on outside production, in production only if asked for."""
        if self.docs_enabled is not None:
            return self.docs_enabled
        return self.environment != "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def jwt_secret(self) -> str:
        if self.secret_key is None:  # pragma: no cover - the model validator fills it
            raise ConfigurationError("SECRET_KEY is not set")
        return self.secret_key.get_secret_value()

    @property
    def frontend_base(self) -> str:
        return str(self.frontend_url).rstrip("/")


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad variable, naming it, without echoing its value."""
    lines = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"][:1]).upper()
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{name}: {message}" if name else message)
    return "; ".join(lines)


def load_settings(*, secret_key_needed: bool = True, **overrides: object) -> Settings:
    """Build Settings, turning a validation failure into one readable ConfigurationError.

    `secret_key_needed=False` is for commands that sign nothing: production then neither
    requires nor checks SECRET_KEY (a random one fills the field).
    """
    token = _SECRET_KEY_NEEDED.set(secret_key_needed)
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        message = describe_validation_error(error)
        raise ConfigurationError(f"invalid configuration: {message}") from None
    finally:
        _SECRET_KEY_NEEDED.reset(token)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
