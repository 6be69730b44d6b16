"""Which credentials and API key scopes each task route accepts."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import api_key_headers, assert_error
from tests.support.tasks import TASKS, count_tasks, stored_task

# --- credentials and scopes ----------------------------------------------------------------


async def test_a_tasks_read_key_lists_and_reads_but_may_not_write(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    task = await make.task(project, title="Same")
    key = await api_key_headers(client, make.headers(owner), "tasks:read")

    listed = await client.get(TASKS, headers=key)
    got = await client.get(f"{TASKS}/{task.id}", headers=key)
    writes = [
        await client.post(TASKS, json={"title": "t", "project_id": project.id}, headers=key),
        await client.patch(f"{TASKS}/{task.id}", json={"title": "x"}, headers=key),
        await client.delete(f"{TASKS}/{task.id}", headers=key),
        await client.post(
            f"{TASKS}/bulk-update",
            json={"task_ids": [task.id], "update_data": {"priority": 1}},
            headers=key,
        ),
        await client.post(f"{TASKS}/{task.id}/move", json={"project_id": project.id}, headers=key),
    ]

    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()] == [task.id]
    assert got.status_code == 200, got.text
    for response in writes:
        assert_error(response, 403, "insufficient_scope")
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert (stored.title, stored.version) == ("Same", 1)
    assert await count_tasks(sessionmaker, project_id=project.id) == 1


async def test_a_tasks_write_key_creates_changes_and_deletes(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    key = await api_key_headers(client, make.headers(owner), "tasks:read", "tasks:write")

    created = await client.post(TASKS, json={"title": "t", "project_id": project.id}, headers=key)
    task_id = created.json()["id"]
    patched = await client.patch(f"{TASKS}/{task_id}", json={"title": "u"}, headers=key)
    bulk = await client.post(
        f"{TASKS}/bulk-update",
        json={"task_ids": [task_id], "update_data": {"priority": 1}},
        headers=key,
    )
    deleted = await client.delete(f"{TASKS}/{task_id}", headers=key)

    assert created.status_code == 201, created.text
    assert patched.status_code == 200, patched.text
    assert bulk.status_code == 200, bulk.text
    assert deleted.status_code == 204, deleted.text


async def test_a_key_without_task_scopes_may_not_read_tasks(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner))
    key = await api_key_headers(client, make.headers(owner), "projects:read")

    listed = await client.get(TASKS, headers=key)
    got = await client.get(f"{TASKS}/{task.id}", headers=key)

    assert_error(listed, 403, "insufficient_scope")
    assert_error(got, 403, "insufficient_scope")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("POST", "", {"title": "t", "project_id": 1}),
        ("GET", "/{id}", None),
        ("PATCH", "/{id}", {"title": "t"}),
        ("DELETE", "/{id}", None),
        ("POST", "/bulk-update", {"task_ids": ["{id}"], "update_data": {"priority": 1}}),
        ("POST", "/{id}/move", {"project_id": 1}),
    ],
    ids=["list", "create", "read", "patch", "delete", "bulk-update", "move"],
)
async def test_every_task_route_answers_401_without_credentials(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    owner = await make()
    project = await make.project(owner)
    task = await make.task(project, title="Same")
    if body is not None:
        body = {
            name: (
                [task.id] if name == "task_ids" else project.id if name == "project_id" else value
            )
            for name, value in body.items()
        }

    response = await client.request(method, TASKS + path.format(id=task.id), json=body)

    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    stored = await stored_task(sessionmaker, task.id)
    assert stored is not None
    assert (stored.title, stored.version) == ("Same", 1)


async def test_an_invalid_bearer_token_is_401(client: AsyncClient) -> None:
    response = await client.get(TASKS, headers={"Authorization": "Bearer not-a-token"})

    assert_error(response, 401, "invalid_token")
