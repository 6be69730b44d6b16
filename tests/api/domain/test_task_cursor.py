"""GET /api/v1/tasks?cursor=...: keyset pages in every sort order, stable while rows are
added, X-Total-Count beside them, visibility, and every way a cursor can be refused."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient, Response

from taskflow.tasks.models import Task
from tests.factories import DomainFactory
from tests.support.api import links
from tests.support.tasks import TASKS


def cursor_of(url: str) -> str:
    match = re.search(r"[?&]cursor=([^&]+)", url)
    assert match is not None, url
    return match.group(1)


def forged(*parts: Any) -> str:
    raw = json.dumps(list(parts)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def walk(
    client: AsyncClient, headers: dict[str, str], url: str
) -> tuple[list[int], list[Response]]:
    """Follow `next` links from url to the end: the ids in order and every response."""
    seen: list[int] = []
    responses: list[Response] = []
    next_url: str | None = url
    while next_url is not None:
        response = await client.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        responses.append(response)
        seen += [task["id"] for task in response.json()]
        next_url = links(response).get("next")
        assert len(responses) <= 20, "the links never end"
    return seen, responses


async def mixed_tasks(make: DomainFactory) -> tuple[dict[str, str], list[Task]]:
    """Nine tasks with tied priorities, titles and creation times, and some without a due
    date, so every sort order has ties that only the id breaks, and empty values."""
    owner = await make()
    project = await make.project(owner)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    tasks = [
        await make.task(
            project,
            title=f"task {n % 3}",
            priority=1 + n % 2,
            created_at=base + timedelta(minutes=n // 2),
            due_date=None if n % 3 == 0 else base + timedelta(days=n % 4),
        )
        for n in range(9)
    ]
    return make.headers(owner), tasks


@pytest.mark.parametrize(
    "sort",
    ["-created_at", "created_at", "priority", "-priority", "title", "due_date", "-due_date"],
)
async def test_next_cursors_walk_every_sort_order_like_one_big_page(
    client: AsyncClient, make: DomainFactory, sort: str
) -> None:
    headers, tasks = await mixed_tasks(make)
    whole = await client.get(TASKS, params={"sort": sort, "limit": 100}, headers=headers)
    expected = [task["id"] for task in whole.json()]

    seen, responses = await walk(client, headers, f"{TASKS}?sort={sort}&limit=2")

    assert seen == expected
    assert sorted(seen) == sorted(task.id for task in tasks)
    assert len(responses) == 5
    assert all("cursor=" in links(r)["next"] for r in responses[:-1])
    assert "Link" not in responses[-1].headers


@pytest.mark.parametrize("sort", ["-created_at", "created_at"])
@pytest.mark.parametrize("priority", [None, 2])
async def test_pages_over_several_projects_interleave_them_by_creation_time(
    client: AsyncClient, make: DomainFactory, sort: str, priority: int | None
) -> None:
    # On PostgreSQL each project's first rows are read apart and merged: the pages must
    # still be one order over every visible project, ties broken by id, by cursor or skip.
    caller, other = await make(), await make()
    owned = await make.project(caller)
    shared, viewed, hidden = [await make.project(other) for _ in range(3)]
    await make.member(shared, caller, "editor")
    await make.member(viewed, caller, "viewer")
    base = datetime(2026, 3, 1, tzinfo=UTC)
    made = [
        await make.task(
            project,
            # Three tasks at each minute, in no order of their ids.
            created_at=base + timedelta(minutes=(n * 5) % 8),
            priority=1 + n % 2,
        )
        for n, project in enumerate([owned, shared, viewed, hidden, owned, viewed] * 4)
    ]
    visible = [
        task for task in made if task.project_id != hidden.id and priority in (None, task.priority)
    ]
    expected = [
        task.id
        for task in sorted(
            visible, key=lambda task: (task.created_at, task.id), reverse=sort.startswith("-")
        )
    ]
    headers = make.headers(caller)
    query = f"{TASKS}?sort={sort}&limit=3" + (f"&priority={priority}" if priority else "")

    seen, responses = await walk(client, headers, query)
    skipped = [
        await client.get(f"{query}&skip={skip}", headers=headers)
        for skip in range(0, len(expected), 3)
    ]

    assert seen == expected
    assert [task["id"] for page in skipped for task in page.json()] == expected
    counts = {r.headers["X-Total-Count"] for r in [*responses, *skipped]}
    assert counts == {str(len(expected))}


@pytest.mark.parametrize("paging", ["cursor", "skip"])
async def test_a_full_last_page_has_no_next_link(
    client: AsyncClient, make: DomainFactory, paging: str
) -> None:
    owner = await make()
    await make.tasks(await make.project(owner), 4)
    headers = make.headers(owner)
    first = await client.get(TASKS, params={"limit": 2}, headers=headers)

    last_url = links(first)["next"] if paging == "cursor" else f"{TASKS}?limit=2&skip=2"
    last = await client.get(last_url, headers=headers)

    assert last.status_code == 200, last.text
    assert len(last.json()) == 2
    assert "next" not in links(last)


async def test_cursor_pages_keep_their_place_when_newer_tasks_arrive(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    base = datetime.now(UTC) - timedelta(hours=1)
    tasks = [await make.task(project, created_at=base + timedelta(minutes=n)) for n in range(4)]
    headers = make.headers(owner)

    first = await client.get(TASKS, params={"limit": 2}, headers=headers)
    await make.task(project, created_at=datetime.now(UTC))  # newest: would shift an offset
    second = await client.get(links(first)["next"], headers=headers)

    assert [t["id"] for t in first.json()] == [tasks[3].id, tasks[2].id]
    assert [t["id"] for t in second.json()] == [tasks[1].id, tasks[0].id]
    assert second.headers["X-Total-Count"] == "5"


async def test_cursor_pages_answer_the_filters_and_count_all_matches(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    high = await make.tasks(project, 5, priority=5)
    await make.tasks(project, 3, priority=1)
    headers = make.headers(owner)

    seen, responses = await walk(client, headers, f"{TASKS}?priority=5&limit=2")

    assert sorted(seen) == sorted(task.id for task in high)
    assert {r.headers["X-Total-Count"] for r in responses} == {"5"}
    assert all("priority=5" in links(r)["next"] for r in responses[:-1])


async def test_a_cursor_page_has_no_prev_link_and_an_offset_page_keeps_one(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    await make.tasks(project, 6)
    headers = make.headers(owner)

    first = await client.get(TASKS, params={"limit": 2}, headers=headers)
    by_cursor = await client.get(links(first)["next"], headers=headers)
    by_offset = await client.get(TASKS, params={"skip": 2, "limit": 2}, headers=headers)

    assert set(links(by_cursor)) == {"next"}
    assert set(links(by_offset)) == {"next", "prev"}
    assert "skip=" not in links(by_offset)["next"]
    assert [t["id"] for t in by_cursor.json()] == [t["id"] for t in by_offset.json()]


async def test_a_cursor_grants_nothing_to_someone_who_cannot_see_the_tasks(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)
    await make.tasks(project, 4)
    mine = await make.tasks(await make.project(stranger), 1)
    first = await client.get(TASKS, params={"limit": 1}, headers=make.headers(owner))

    response = await client.get(links(first)["next"], headers=make.headers(stranger))

    assert response.status_code == 200
    assert [t["id"] for t in response.json()] in ([], [mine[0].id])
    assert response.headers["X-Total-Count"] == "1"


async def test_skip_and_cursor_together_are_refused(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    await make.tasks(await make.project(owner), 3)
    headers = make.headers(owner)
    first = await client.get(TASKS, params={"limit": 1}, headers=headers)
    cursor = cursor_of(links(first)["next"])

    response = await client.get(TASKS, params={"cursor": cursor, "skip": 1}, headers=headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]
    assert "either skip or cursor" in response.json()["detail"][0]["msg"]


async def test_a_cursor_of_another_sort_order_is_refused(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    await make.tasks(await make.project(owner), 3)
    headers = make.headers(owner)
    first = await client.get(TASKS, params={"limit": 1, "sort": "priority"}, headers=headers)

    response = await client.get(
        TASKS,
        params={"cursor": cursor_of(links(first)["next"]), "sort": "title"},
        headers=headers,
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "The cursor belongs to another sort order"


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("-created_at", "bm90IGpzb24"),  # base64 of "not json"
        ("-created_at", "Zm9v_"),  # not base64
        ("-created_at", forged("-created_at", "2026-01-01T00:00:00+00:00")),  # two parts
        ("-created_at", forged("-created_at", "2026-01-01T00:00:00+00:00", "7")),  # id text
        ("-created_at", forged("-created_at", "2026-01-01T00:00:00+00:00", 0)),  # id too low
        ("-created_at", forged("-created_at", "2026-01-01T00:00:00+00:00", True)),  # a boolean
        ("-created_at", forged("-created_at", "yesterday", 7)),  # not a timestamp
        ("-created_at", forged("-created_at", "2026-01-01T00:00:00", 7)),  # no offset
        ("-created_at", forged("-created_at", 5, 7)),  # a number for a timestamp
        ("priority", forged("priority", "high", 7)),  # text for a number
        ("priority", forged("priority", 2**64, 7)),  # past 64 bits
        ("title", forged("title", 3, 7)),  # a number for text
        ("priority", forged("priority", 2**15, 7)),  # past the SMALLINT column
        ("-priority", forged("-priority", -(2**15) - 1, 7)),  # below it
        ("title", forged("title", "a\x00b", 7)),  # a NUL no text column holds
        ("title", forged("title", "a\ud800b", 7)),  # a lone surrogate, not UTF-8
        ("title", forged("title", "x" * 201, 7)),  # longer than the column
        ("-created_at", forged("-created_at", "9999-12-31T23:00:00-05:00", 7)),  # year 10000
        ("due_date", forged("due_date", "0001-01-01T00:00:00+01:00", 7)),  # year 0
    ],
)
async def test_a_cursor_the_list_did_not_make_is_refused_with_422(
    client: AsyncClient, make: DomainFactory, sort: str, cursor: str
) -> None:
    owner = await make()

    response = await client.get(
        TASKS, params={"cursor": cursor, "sort": sort}, headers=make.headers(owner)
    )

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize("cursor", ["", "has space", "a+b/c=", "x" * 513])
async def test_a_cursor_outside_the_alphabet_or_length_is_refused(
    client: AsyncClient, make: DomainFactory, cursor: str
) -> None:
    owner = await make()

    response = await client.get(TASKS, params={"cursor": cursor}, headers=make.headers(owner))

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize("sort", ["-created_at", "title"])
async def test_skip_at_its_maximum_is_an_empty_page_and_past_it_a_422(
    client: AsyncClient, make: DomainFactory, sort: str
) -> None:
    owner = await make()
    await make.tasks(await make.project(owner), 2)
    headers = make.headers(owner)

    # skip's declared maximum, and one more.
    deepest = await client.get(TASKS, params={"skip": 2**31 - 1, "sort": sort}, headers=headers)
    beyond = await client.get(TASKS, params={"skip": 2**31, "sort": sort}, headers=headers)

    assert deepest.status_code == 200, deepest.text
    assert deepest.json() == []
    assert deepest.headers["X-Total-Count"] == "2"
    assert beyond.status_code == 422
    assert beyond.json()["detail"][0]["loc"] == ["query", "skip"]
