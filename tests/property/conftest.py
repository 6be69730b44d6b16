"""The property layer: every operation of the app, on PostgreSQL (with Redis) and on SQLite,
driven by Hypothesis with edge values (see strategies.py)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest
from httpx import AsyncClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from taskflow.config import Settings
from tests.conftest import build_settings
from tests.factories import DomainFactory
from tests.property.requests import app_routes, operations
from tests.property.strategies import World
from tests.support.mailbox import Mailbox

# Bounded so the layer takes about a minute and a quarter on two cores for both databases;
# CI (CI set) replays the same examples every run, a local run explores new ones each time.
_COMMON: dict[str, Any] = {
    "max_examples": 30,
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
}
hypothesis_settings.register_profile("taskflow", **_COMMON)
hypothesis_settings.register_profile("taskflow-ci", derandomize=True, database=None, **_COMMON)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "taskflow-ci" if os.environ.get("CI") else "taskflow")
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        metafunc.parametrize("database_url", ["postgresql", "sqlite"], indirect=True)
    if "operation" in metafunc.fixturenames:
        found = operations(app_routes())
        metafunc.parametrize("operation", found, ids=[op.name for op in found])


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, database_url: str, mailbox: Mailbox, smtp: tuple[Mailbox, int]
) -> Settings:
    """As deployed: PostgreSQL with Redis; SQLite, the embedded default, without."""
    redis = request.getfixturevalue("redis_url") if database_url.startswith("postgresql") else None
    return build_settings(
        database_url=database_url,
        email_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        redis_url=redis,
    )


@pytest.fixture
async def world(client: AsyncClient, make: DomainFactory) -> dict[str, Any]:
    """A user owning a project with a task and an API key, a member of the project, an
    admin, and their ids."""
    owner, member, admin = await make(), await make(), await make.admin()
    project = await make.project(owner)
    await make.member(project, member, "editor")
    task = await make.task(project, assignee_id=owner.id, due_date=datetime(2030, 1, 1, tzinfo=UTC))
    archived = await make.project(owner, is_archived=True)
    key = await client.post(
        "/api/v1/api-keys",
        json={"name": "script", "scopes": ["tasks:read"]},
        headers=make.headers(owner),
    )
    assert key.status_code == 201, key.text
    ids = (owner.id, member.id, admin.id, project.id, task.id, archived.id, key.json()["id"])
    return {
        "users": {"owner": owner, "admin": admin},
        "world": World(ids=ids, emails=(owner.email, member.email, admin.email)),
        "user_ids": (owner.id, member.id, admin.id),
    }
