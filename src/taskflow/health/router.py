"""Liveness (the process runs) and readiness (it can serve: its database answers at the
schema this version expects; Redis, which only speeds things up, is reported but optional)."""

from __future__ import annotations

import asyncio
from typing import Literal

import structlog
from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse

from taskflow import db_migrations
from taskflow.config import Settings
from taskflow.core.db import Database

router = APIRouter(tags=["health"])
log = structlog.get_logger("taskflow.health")

# ok: works. error: requests fail until it is fixed (503). degraded: Redis fails and the
# service runs without it (200). disabled: not configured. unknown: not checked, because
# the database it is read from failed.
CheckResult = Literal["ok", "error", "degraded", "disabled", "unknown"]


class HealthReport(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    checks: dict[str, CheckResult]


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


async def _database_checks(
    database: Database, revisions: db_migrations.SchemaRevisions, seconds: float
) -> tuple[CheckResult, CheckResult]:
    """(database, migrations): one connection, one query, which also proves the database
    answers."""
    try:
        async with asyncio.timeout(seconds), database.engine.connect() as connection:
            stored = await db_migrations.stored_revisions(connection)
    except Exception as error:
        log.warning("health_check_failed", check="database", error=type(error).__name__)
        return "error", "unknown"
    if not revisions.is_current(stored):
        log.warning(
            "health_check_failed",
            check="migrations",
            database_revision=sorted(stored),
            expected=sorted(revisions.heads),
        )
        return "ok", "error"
    return "ok", "ok"


async def _redis_check(request: Request, seconds: float) -> CheckResult:
    redis = request.app.state.redis
    if redis is None:
        return "disabled"
    try:
        async with asyncio.timeout(seconds):
            await redis.ping()
    except Exception as error:
        log.warning("health_check_failed", check="redis", error=type(error).__name__)
        return "degraded"
    return "ok"


@router.get(
    "/health",
    response_model=HealthReport,
    responses={
        503: {"model": HealthReport, "description": "The database or its schema is not ready"}
    },
    summary="Readiness: the database answers at the expected schema; Redis is optional",
)
async def check_readiness(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    timeout = settings.health_check_timeout_seconds
    database, migrations = await _database_checks(
        request.app.state.database, request.app.state.schema_revisions, timeout
    )
    checks: dict[str, CheckResult] = {
        "database": database,
        "migrations": migrations,
        "redis": await _redis_check(request, timeout),
    }
    if "error" in checks.values():
        status: Literal["ok", "degraded", "unavailable"] = "unavailable"
    else:
        status = "degraded" if "degraded" in checks.values() else "ok"
    report = HealthReport(status=status, checks=checks)
    return JSONResponse(report.model_dump(), status_code=503 if status == "unavailable" else 200)


@router.get("/health/live", response_model=Liveness, summary="Liveness: the process runs")
async def check_liveness() -> Liveness:
    return Liveness()
