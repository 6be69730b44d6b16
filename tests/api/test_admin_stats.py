"""GET /api/v1/admin/stats: exact counts across the whole service, for administrators only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from httpx import AsyncClient

from tests.factories import DomainFactory
from tests.support.api import api_key, assert_error

STATS = "/api/v1/admin/stats"
STATS_FIELDS = {
    "users_total",
    "users_active",
    "users_by_role",
    "projects_total",
    "tasks_total",
    "tasks_overdue",
}


async def stats(client: AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(STATS, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == STATS_FIELDS
    return body


# --- who may ask --------------------------------------------------------------------------


async def test_stats_require_credentials(client: AsyncClient) -> None:
    assert_error(await client.get(STATS), 401, "not_authenticated")


async def test_stats_are_forbidden_to_a_regular_user(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    assert_error(await client.get(STATS, headers=make.headers(user)), 403, "forbidden")


async def test_stats_refuse_an_admin_api_key_without_users_read(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin = await make.admin()
    headers = make.headers(admin)
    without = await api_key(client, headers, "projects:read", "tasks:read")
    with_scope = await api_key(client, headers, "users:read")

    assert_error(await client.get(STATS, headers={"X-API-Key": without}), 403, "insufficient_scope")
    assert (await stats(client, {"X-API-Key": with_scope}))["users_by_role"]["admin"] == 1


async def test_stats_refuse_a_regular_users_api_key_with_users_read(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    key = await api_key(client, make.headers(user), "users:read")

    assert_error(await client.get(STATS, headers={"X-API-Key": key}), 403, "forbidden")


# --- what they count ----------------------------------------------------------------------


async def test_stats_of_a_service_with_only_the_admin_count_zero_everywhere_else(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin = await make.admin()

    assert await stats(client, make.headers(admin)) == {
        "users_total": 1,
        "users_active": 1,
        "users_by_role": {"user": 0, "admin": 1},
        "projects_total": 0,
        "tasks_total": 0,
        "tasks_overdue": 0,
    }


async def test_stats_count_users_projects_tasks_and_overdue_tasks_exactly(
    client: AsyncClient, make: DomainFactory
) -> None:
    now = datetime.now(UTC)
    admin = await make.admin()
    await make.admin(is_active=False)
    alice, bob = await make(), await make()
    await make(is_active=False)
    first, second = await make.project(alice), await make.project(bob)
    await make.project(alice, is_archived=True)
    # Overdue: open, with a due date already past.
    await make.task(first, due_date=now - timedelta(days=3))
    await make.task(second, due_date=now - timedelta(minutes=5))
    # Not overdue: done though late, due later, or never due.
    await make.task(first, due_date=now - timedelta(days=1), is_completed=True, completed_at=now)
    await make.task(first, due_date=now + timedelta(days=2))
    await make.task(second, due_date=None)
    await make.task(second, due_date=None, is_completed=True, completed_at=now)

    assert await stats(client, make.headers(admin)) == {
        "users_total": 5,
        "users_active": 3,
        "users_by_role": {"user": 3, "admin": 2},
        "projects_total": 3,
        "tasks_total": 6,
        "tasks_overdue": 2,
    }


async def test_stats_follow_changes_made_through_the_api(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, owner = await make.admin(), await make()
    project = await make.project(owner)
    task = await make.task(project, due_date=datetime.now(UTC) - timedelta(hours=1))
    headers = make.headers(admin)
    before = await stats(client, headers)
    assert before["tasks_overdue"] == 1

    completed = await client.patch(
        f"/api/v1/tasks/{task.id}",
        json={"is_completed": True},
        headers=make.headers(owner),
    )
    assert completed.status_code == 200, completed.text
    deactivated = await client.delete(f"/api/v1/users/{owner.id}", headers=headers)
    assert deactivated.status_code == 204, deactivated.text

    after = await stats(client, headers)
    assert after["tasks_overdue"] == 0
    assert after["tasks_total"] == 1
    assert after["users_active"] == before["users_active"] - 1
    assert after["users_total"] == before["users_total"]


async def test_stats_count_a_task_overdue_once_its_due_date_has_passed(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, owner = await make.admin(), await make()
    project = await make.project(owner)
    due = datetime.now(UTC) + timedelta(days=2)
    await make.task(project, due_date=due)

    assert (await stats(client, make.headers(admin)))["tasks_overdue"] == 0
    with time_machine.travel(due + timedelta(minutes=1), tick=True):
        # A token minted in the moved clock, so it is still valid there.
        assert (await stats(client, make.headers(admin)))["tasks_overdue"] == 1
