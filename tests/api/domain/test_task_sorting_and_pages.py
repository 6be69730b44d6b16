"""Sorting and paging the task list, in a bounded number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from taskflow.tasks.models import Task
from taskflow.users.models import User
from tests.factories import DomainFactory
from tests.support import sql
from tests.support.api import links
from tests.support.tasks import TASKS, assert_422_at, ids, listed, shared_project

# --- sorting -------------------------------------------------------------------------------


async def _sortable_tasks(make: DomainFactory) -> tuple[User, dict[str, Task]]:
    """Four tasks whose order differs by every sort key; c and d have no due date."""
    owner, project = await shared_project(make)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
    day = timedelta(days=1)

    async def task(title: str, priority: int, created: int, updated: int, due: int | None) -> Task:
        return await make.task(
            project,
            title=title,
            priority=priority,
            created_at=base + created * day,
            updated_at=base + updated * day,
            due_date=None if due is None else base + timedelta(days=30 + due),
        )

    return owner, {
        "a": await task("Bravo", 2, created=2, updated=0, due=1),
        "b": await task("Charlie", 1, created=0, updated=2, due=3),
        "c": await task("Alpha", 3, created=1, updated=1, due=None),
        "d": await task("Delta", 5, created=3, updated=3, due=None),
    }


ASCENDING = {
    "title": "cabd",
    "priority": "bacd",
    "created_at": "bcad",
    "updated_at": "acbd",
}


@pytest.mark.parametrize("key", sorted(ASCENDING))
async def test_sort_orders_by_each_key_both_ways(
    client: AsyncClient, make: DomainFactory, key: str
) -> None:
    owner, tasks = await _sortable_tasks(make)
    headers = make.headers(owner)
    expected = [tasks[name].id for name in ASCENDING[key]]

    ascending, _ = await listed(client, headers, sort=key)
    descending, _ = await listed(client, headers, sort=f"-{key}")

    assert ascending == expected
    assert descending == expected[::-1]


async def test_sort_by_due_date_puts_undated_tasks_last_both_ways(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, tasks = await _sortable_tasks(make)
    headers = make.headers(owner)

    ascending, _ = await listed(client, headers, sort="due_date")
    descending, _ = await listed(client, headers, sort="-due_date")

    assert ascending[:2] == ids(tasks["a"], tasks["b"])
    assert descending[:2] == ids(tasks["b"], tasks["a"])
    assert set(ascending[2:]) == set(descending[2:]) == set(ids(tasks["c"], tasks["d"]))


async def test_the_default_sort_is_newest_first(client: AsyncClient, make: DomainFactory) -> None:
    owner, tasks = await _sortable_tasks(make)

    got, _ = await listed(client, make.headers(owner))

    assert got == [tasks[name].id for name in "dacb"]


@pytest.mark.parametrize("sort", ["size", "-project_id", "--title", "title,priority", ""])
async def test_an_unknown_sort_is_422(client: AsyncClient, make: DomainFactory, sort: str) -> None:
    me = await make()

    response = await client.get(TASKS, params={"sort": sort}, headers=make.headers(me))

    assert_422_at(response, ["query", "sort"])


# --- pages ---------------------------------------------------------------------------------


async def test_skip_and_limit_page_through_with_total_count_and_link_headers(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, project = await shared_project(make)
    base = datetime.now(UTC) - timedelta(hours=1)
    tasks = [await make.task(project, created_at=base + timedelta(minutes=n)) for n in range(5)]
    newest_first = ids(*reversed(tasks))
    headers = make.headers(owner)

    first = await client.get(TASKS, params={"limit": 2}, headers=headers)
    middle = await client.get(TASKS, params={"skip": 2, "limit": 2}, headers=headers)
    last = await client.get(TASKS, params={"skip": 4, "limit": 2}, headers=headers)

    assert [t["id"] for t in first.json()] == newest_first[:2]
    assert [t["id"] for t in middle.json()] == newest_first[2:4]
    assert [t["id"] for t in last.json()] == newest_first[4:]
    assert {r.headers["X-Total-Count"] for r in (first, middle, last)} == {"5"}
    assert set(links(first)) == {"next"}
    assert set(links(middle)) == {"next", "prev"}
    assert set(links(last)) == {"prev"}
    # "next" continues after the last row by cursor; "prev" of an offset page is an offset.
    assert "cursor=" in links(first)["next"] and "limit=2" in links(first)["next"]
    assert "skip=0" in links(middle)["prev"]


async def test_following_next_links_visits_every_task_once(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, project = await shared_project(make)
    tasks = await make.tasks(project, 7, priority=3)
    headers = make.headers(owner)
    seen: list[int] = []

    url: str | None = f"{TASKS}?priority=3&sort=priority&limit=3"
    while url is not None:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["X-Total-Count"] == "7"
        seen += [task["id"] for task in response.json()]
        url = links(response).get("next")

    assert sorted(seen) == sorted(ids(*tasks))
    assert len(seen) == 7


async def test_a_single_page_has_no_link_header(client: AsyncClient, make: DomainFactory) -> None:
    owner, project = await shared_project(make)
    await make.tasks(project, 2)

    response = await client.get(TASKS, headers=make.headers(owner))

    assert response.headers["X-Total-Count"] == "2"
    assert "Link" not in response.headers


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 101}, ["query", "limit"]),
        ({"skip": -1}, ["query", "skip"]),
    ],
)
async def test_page_parameters_out_of_range_are_422(
    client: AsyncClient, make: DomainFactory, params: dict[str, int], loc: list[str]
) -> None:
    me = await make()

    response = await client.get(TASKS, params=params, headers=make.headers(me))

    assert_422_at(response, loc)


# --- bounded queries -----------------------------------------------------------------------


async def test_a_page_of_20_tasks_takes_as_many_queries_as_a_page_of_2(
    client: AsyncClient, make: DomainFactory, app: FastAPI
) -> None:
    owner, project = await shared_project(make)
    helpers = [await make() for _ in range(4)]
    for helper in helpers:
        await make.member(project, helper, "editor")
    await make.task(project, assignee_id=helpers[0].id)
    await make.task(project, assignee_id=helpers[1].id)
    headers = make.headers(owner)
    await listed(client, headers, limit=20)  # warm up: connection set-up is not counted

    with sql.statements(app) as few:
        small, _ = await listed(client, headers, limit=20)
    for n in range(18):
        await make.task(project, assignee_id=helpers[n % 4].id, created_by=helpers[(n + 1) % 4])
    with sql.statements(app) as many:
        large, _ = await listed(client, headers, limit=20)

    assert (len(small), len(large)) == (2, 20)
    assert len(few) == len(many), (few, many)
    assert len(few) <= 4, few
