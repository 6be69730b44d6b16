"""A task create is one statement and a change two (a read, then the write): they run
without a transaction, so they cost no BEGIN and COMMIT round trips, unless the request
already holds one."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from tests.factories import DomainFactory
from tests.support.sql import statements_in_transaction

pytestmark = pytest.mark.postgres

TASKS = "/api/v1/tasks"


@pytest.mark.settings(redis_url="from-fixture")
async def test_a_task_create_and_change_run_each_statement_alone(
    app: FastAPI, client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    await client.get("/api/v1/users/me", headers=headers)  # the caller is cached

    with statements_in_transaction(app) as statements:
        created = await client.post(
            TASKS, json={"title": "Alone", "project_id": project.id}, headers=headers
        )
        changed = await client.patch(
            f"{TASKS}/{created.json()['id']}", json={"priority": 1}, headers=headers
        )

    assert (created.status_code, changed.status_code) == (201, 200), changed.text
    assert statements == [
        ("INSERT", False),  # which checks the caller's access itself
        ("SELECT", False),  # the task, as the caller sees it
        ("UPDATE", False),
    ]


async def test_a_task_create_joins_the_transaction_of_its_idempotency_key(
    app: FastAPI, client: AsyncClient, make: DomainFactory
) -> None:
    # Without Redis the Idempotency-Key is kept in the database, in the request's
    # transaction (begun before the task is written): the task must commit with it.
    owner = await make()
    project = await make.project(owner)
    headers = {**make.headers(owner), "Idempotency-Key": "joins-1"}

    with statements_in_transaction(app) as statements:
        created = await client.post(
            TASKS, json={"title": "Together", "project_id": project.id}, headers=headers
        )

    assert created.status_code == 201, created.text
    assert ("INSERT", True) in statements, statements
    assert all(inside for _, inside in statements), statements
