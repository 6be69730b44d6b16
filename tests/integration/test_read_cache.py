"""The Redis read cache against real PostgreSQL and Redis: hits touch no database, and
every write is seen by the next read of everyone affected, on any app instance."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from taskflow.config import Settings
from taskflow.core.metrics import CACHE_HITS, CACHE_MISSES
from taskflow.main import create_app
from tests.factories import DomainFactory
from tests.support.sql import statements

pytestmark = pytest.mark.settings(redis_url="from-fixture")

CACHED_READS: list[Callable[[int, int], str]] = [
    lambda project_id, task_id: "/api/v1/tasks",
    lambda project_id, task_id: f"/api/v1/tasks?project_id={project_id}&sort=title",
    lambda project_id, task_id: f"/api/v1/tasks/{task_id}",
    lambda project_id, task_id: "/api/v1/projects",
    lambda project_id, task_id: f"/api/v1/projects/{project_id}",
]


@asynccontextmanager
async def another_instance(settings: Settings) -> AsyncIterator[AsyncClient]:
    """A second, separate app (as another worker or host) on the same database and Redis."""
    app = create_app(settings)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client,
    ):
        yield client


async def owned_read(
    make: DomainFactory, path: Callable[[int, int], str]
) -> tuple[str, dict[str, str]]:
    """A cached read's URL for a new owner of a project with one task, and its headers."""
    owner = await make()
    project = await make.project(owner)
    task = await make.task(project)
    return path(project.id, task.id), make.headers(owner)


@pytest.mark.parametrize("path", CACHED_READS)
async def test_a_cache_hit_sends_no_sql_at_all(
    app: FastAPI, client: AsyncClient, make: DomainFactory, path: Callable[[int, int], str]
) -> None:
    url, headers = await owned_read(make, path)
    first = await client.get(url, headers=headers)
    assert first.status_code == 200

    with statements(app) as sql:
        second = await client.get(url, headers=headers)

    assert sql == []
    assert second.status_code == 200
    assert second.json() == first.json()
    for header in ("ETag", "X-Total-Count", "Link"):
        assert second.headers.get(header) == first.headers.get(header)


@pytest.mark.settings(redis_url="from-fixture", cache_reads=False)
@pytest.mark.parametrize("path", CACHED_READS)
async def test_with_cache_reads_off_every_read_asks_the_database(
    app: FastAPI, client: AsyncClient, make: DomainFactory, path: Callable[[int, int], str]
) -> None:
    url, headers = await owned_read(make, path)
    first = await client.get(url, headers=headers)
    hits = CACHE_HITS._value.get()

    with statements(app) as sql:
        second = await client.get(url, headers=headers)

    assert second.status_code == 200
    assert second.json() == first.json()
    assert sql, "the second read was answered from the cache"
    assert CACHE_HITS._value.get() == hits


async def test_a_cache_hit_for_an_api_key_sends_no_sql(
    app: FastAPI, client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    await make.tasks(project, 3)
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "reader", "scopes": ["tasks:read"]},
        headers=make.headers(owner),
    )
    key = {"X-API-Key": created.json()["key"]}
    assert (await client.get("/api/v1/tasks", headers=key)).status_code == 200

    with statements(app) as sql:
        second = await client.get("/api/v1/tasks", headers=key)

    assert sql == []
    assert second.headers["X-Total-Count"] == "3"


async def test_the_cached_principal_also_answers_users_me_without_sql(
    app: FastAPI, client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    await client.get("/api/v1/users/me", headers=make.headers(user))

    with statements(app) as sql:
        me = await client.get("/api/v1/users/me", headers=make.headers(user))

    assert me.json()["email"] == user.email
    assert sql == []


async def test_hits_and_misses_are_counted(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    await make.project(owner)
    hits, misses = CACHE_HITS._value.get(), CACHE_MISSES._value.get()

    await client.get("/api/v1/projects", headers=make.headers(owner))
    await client.get("/api/v1/projects", headers=make.headers(owner))

    assert CACHE_MISSES._value.get() == misses + 1
    assert CACHE_HITS._value.get() == hits + 1


async def test_answers_are_cached_per_caller(client: AsyncClient, make: DomainFactory) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")
    as_owner = await client.get(f"/api/v1/projects/{project.id}", headers=make.headers(owner))
    as_viewer = await client.get(f"/api/v1/projects/{project.id}", headers=make.headers(viewer))
    assert as_owner.json()["my_role"] == "owner"
    assert as_viewer.json()["my_role"] == "viewer"


async def test_time_dependent_status_filters_are_never_cached(
    app: FastAPI, client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    await make.project(owner)
    await client.get("/api/v1/tasks?status=overdue", headers=make.headers(owner))
    with statements(app) as sql:
        await client.get("/api/v1/tasks?status=overdue", headers=make.headers(owner))
    assert sql != []


# --- read-your-writes across instances ----------------------------------------------------


async def _warm(client: AsyncClient, urls: list[str], headers: dict[str, str]) -> None:
    for url in urls:
        assert (await client.get(url, headers=headers)).status_code in (200, 404)


async def test_a_task_change_on_one_instance_is_read_on_another(
    client: AsyncClient, settings: Settings, make: DomainFactory
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "editor")
    task = await make.task(project, title="before")
    urls = [f"/api/v1/tasks/{task.id}", "/api/v1/tasks", f"/api/v1/tasks?project_id={project.id}"]
    async with another_instance(settings) as other:
        await _warm(other, urls, make.headers(member))

        changed = await client.patch(
            f"/api/v1/tasks/{task.id}", json={"title": "after"}, headers=make.headers(owner)
        )
        assert changed.status_code == 200

        single = await other.get(urls[0], headers=make.headers(member))
        listed = await other.get(urls[1], headers=make.headers(member))
        filtered = await other.get(urls[2], headers=make.headers(member))
    assert single.json()["title"] == "after"
    assert single.headers["ETag"] == changed.headers["ETag"]
    assert [t["title"] for t in listed.json()] == ["after"]
    assert [t["title"] for t in filtered.json()] == ["after"]


async def test_creating_deleting_and_bulk_updating_tasks_is_read_at_once(
    client: AsyncClient, settings: Settings, make: DomainFactory
) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")
    first, second = await make.task(project, priority=1), await make.task(project, priority=1)
    reader = make.headers(viewer)
    async with another_instance(settings) as other:
        await _warm(other, ["/api/v1/tasks"], reader)

        created = await client.post(
            "/api/v1/tasks",
            json={"title": "new", "project_id": project.id},
            headers=make.headers(owner),
        )
        assert (await other.get("/api/v1/tasks", headers=reader)).headers["X-Total-Count"] == "3"

        await client.post(
            "/api/v1/tasks/bulk-update",
            json={"task_ids": [first.id, second.id], "update_data": {"priority": 5}},
            headers=make.headers(owner),
        )
        priorities = {
            t["id"]: t["priority"]
            for t in (await other.get("/api/v1/tasks", headers=reader)).json()
        }
        assert priorities[first.id] == priorities[second.id] == 5

        await client.delete(f"/api/v1/tasks/{created.json()['id']}", headers=make.headers(owner))
        after_delete = await other.get("/api/v1/tasks", headers=reader)
        assert after_delete.headers["X-Total-Count"] == "2"
        gone = await other.get(f"/api/v1/tasks/{created.json()['id']}", headers=reader)
        assert gone.status_code == 404


async def test_a_move_is_read_in_both_projects(
    client: AsyncClient, settings: Settings, make: DomainFactory
) -> None:
    owner, watcher = await make(), await make()
    source, target = await make.project(owner), await make.project(owner)
    await make.member(source, watcher, "viewer")
    await make.member(target, watcher, "viewer")
    task = await make.task(source)
    urls = [
        f"/api/v1/tasks?project_id={source.id}",
        f"/api/v1/tasks?project_id={target.id}",
        f"/api/v1/tasks/{task.id}",
    ]
    async with another_instance(settings) as other:
        await _warm(other, urls, make.headers(watcher))

        moved = await client.post(
            f"/api/v1/tasks/{task.id}/move",
            json={"project_id": target.id},
            headers=make.headers(owner),
        )
        assert moved.status_code == 200

        in_source = await other.get(urls[0], headers=make.headers(watcher))
        in_target = await other.get(urls[1], headers=make.headers(watcher))
        single = await other.get(urls[2], headers=make.headers(watcher))
    assert in_source.json() == []
    assert [t["id"] for t in in_target.json()] == [task.id]
    assert single.json()["project"]["id"] == target.id


async def test_membership_changes_are_read_by_the_member_at_once(
    client: AsyncClient, settings: Settings, make: DomainFactory
) -> None:
    owner, newcomer = await make(), await make()
    project = await make.project(owner)
    await make.task(project)
    reader = make.headers(newcomer)
    urls = ["/api/v1/projects", "/api/v1/tasks", f"/api/v1/projects/{project.id}"]
    async with another_instance(settings) as other:
        await _warm(other, urls, reader)
        assert (await other.get(urls[0], headers=reader)).json() == []

        added = await client.post(
            f"/api/v1/projects/{project.id}/members",
            json={"email": newcomer.email, "role": "viewer"},
            headers=make.headers(owner),
        )
        assert added.status_code == 201
        assert [p["id"] for p in (await other.get(urls[0], headers=reader)).json()] == [project.id]
        assert (await other.get(urls[1], headers=reader)).headers["X-Total-Count"] == "1"
        assert (await other.get(urls[2], headers=reader)).json()["my_role"] == "viewer"

        await client.patch(
            f"/api/v1/projects/{project.id}/members/{newcomer.id}",
            json={"role": "editor"},
            headers=make.headers(owner),
        )
        assert (await other.get(urls[2], headers=reader)).json()["my_role"] == "editor"

        await client.delete(
            f"/api/v1/projects/{project.id}/members/{newcomer.id}", headers=make.headers(owner)
        )
        assert (await other.get(urls[0], headers=reader)).json() == []
        assert (await other.get(urls[1], headers=reader)).headers["X-Total-Count"] == "0"
        assert (await other.get(urls[2], headers=reader)).status_code == 404


async def test_project_changes_and_deletion_are_read_at_once(
    client: AsyncClient, settings: Settings, make: DomainFactory
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner, name="old name")
    await make.member(project, member, "viewer")
    task = await make.task(project)
    reader = make.headers(member)
    async with another_instance(settings) as other:
        await _warm(other, ["/api/v1/projects", f"/api/v1/tasks/{task.id}"], reader)

        await client.patch(
            f"/api/v1/projects/{project.id}",
            json={"name": "new name"},
            headers=make.headers(owner),
        )
        assert (await other.get("/api/v1/projects", headers=reader)).json()[0]["name"] == "new name"
        task_read = await other.get(f"/api/v1/tasks/{task.id}", headers=reader)
        assert task_read.json()["project"]["name"] == "new name"

        await client.delete(f"/api/v1/projects/{project.id}", headers=make.headers(owner))
        assert (await other.get("/api/v1/projects", headers=reader)).json() == []
        assert (await other.get(f"/api/v1/tasks/{task.id}", headers=reader)).status_code == 404


async def test_a_renamed_user_is_read_in_the_tasks_that_name_it(
    client: AsyncClient, settings: Settings, make: DomainFactory
) -> None:
    owner, assignee = await make(), await make(full_name="Old Name")
    project = await make.project(owner)
    await make.member(project, assignee, "editor")
    task = await make.task(project, assignee_id=assignee.id)
    async with another_instance(settings) as other:
        await _warm(other, [f"/api/v1/tasks/{task.id}"], make.headers(owner))
        await client.patch(
            "/api/v1/users/me", json={"full_name": "New Name"}, headers=make.headers(assignee)
        )
        read = await other.get(f"/api/v1/tasks/{task.id}", headers=make.headers(owner))
    assert read.json()["assignee"]["full_name"] == "New Name"


async def test_deactivation_ends_a_cached_principal_on_every_instance(
    client: AsyncClient, settings: Settings, make: DomainFactory
) -> None:
    admin, user = await make.admin(), await make()
    await make.project(user)
    async with another_instance(settings) as other:
        await _warm(other, ["/api/v1/projects", "/api/v1/users/me"], make.headers(user))

        deactivated = await client.delete(f"/api/v1/users/{user.id}", headers=make.headers(admin))
        assert deactivated.status_code == 204

        for url in ("/api/v1/projects", "/api/v1/users/me"):
            assert (await other.get(url, headers=make.headers(user))).status_code == 401


async def test_a_revoked_api_key_stops_on_every_instance(
    client: AsyncClient, settings: Settings, make: DomainFactory
) -> None:
    user = await make()
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "k", "scopes": ["projects:read"]},
        headers=make.headers(user),
    )
    key = {"X-API-Key": created.json()["key"]}
    async with another_instance(settings) as other:
        await _warm(other, ["/api/v1/projects"], key)
        await client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=make.headers(user))
        assert (await other.get("/api/v1/projects", headers=key)).status_code == 401


async def test_a_demoted_admin_stops_seeing_other_projects_at_once(
    client: AsyncClient, settings: Settings, make: DomainFactory
) -> None:
    boss, demoted, stranger = await make.admin(), await make.admin(), await make()
    project = await make.project(stranger)
    async with another_instance(settings) as other:
        await _warm(
            other, ["/api/v1/projects", f"/api/v1/projects/{project.id}"], make.headers(demoted)
        )
        await client.patch(
            f"/api/v1/users/{demoted.id}", json={"role": "user"}, headers=make.headers(boss)
        )
        listed = await other.get("/api/v1/projects", headers=make.headers(demoted))
        single = await other.get(f"/api/v1/projects/{project.id}", headers=make.headers(demoted))
    assert listed.json() == []
    assert single.status_code == 404


async def test_an_admin_reads_any_change_at_once(
    client: AsyncClient, settings: Settings, make: DomainFactory
) -> None:
    admin, owner = await make.admin(), await make()
    project = await make.project(owner)
    async with another_instance(settings) as other:
        await _warm(other, ["/api/v1/tasks"], make.headers(admin))
        await client.post(
            "/api/v1/tasks",
            json={"title": "seen by admin", "project_id": project.id},
            headers=make.headers(owner),
        )
        listed = await other.get("/api/v1/tasks", headers=make.headers(admin))
    assert [t["title"] for t in listed.json()] == ["seen by admin"]
