"""Liveness (the process runs) and readiness (its database and Redis answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal

import structlog
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from taskflow.config import Settings
from taskflow.core.db import Database

router = APIRouter(tags=["health"])
log = structlog.get_logger("taskflow.health")

CheckResult = Literal["ok", "error", "disabled"]


class HealthReport(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckResult]


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


async def _check(name: str, probe: Awaitable[object], seconds: float) -> CheckResult:
    try:
        async with asyncio.timeout(seconds):
            await probe
    except Exception as error:
        log.warning("health_check_failed", check=name, error=type(error).__name__)
        return "error"
    return "ok"


async def _ping_database(database: Database) -> None:
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


@router.get(
    "/health",
    response_model=HealthReport,
    responses={503: {"model": HealthReport, "description": "A dependency is failing"}},
    summary="Readiness: the database and Redis answer",
)
async def check_readiness(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    timeout = settings.health_check_timeout_seconds
    checks: dict[str, CheckResult] = {
        "database": await _check("database", _ping_database(request.app.state.database), timeout)
    }
    redis = request.app.state.redis
    checks["redis"] = "disabled" if redis is None else await _check("redis", redis.ping(), timeout)
    healthy = all(result != "error" for result in checks.values())
    report = HealthReport(status="ok" if healthy else "unavailable", checks=checks)
    return JSONResponse(report.model_dump(), status_code=200 if healthy else 503)


@router.get("/health/live", response_model=Liveness, summary="Liveness: the process runs")
async def check_liveness() -> Liveness:
    return Liveness()
