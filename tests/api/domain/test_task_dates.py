"""Due dates at the calendar's edges: every date-time the API takes is stored, read back and
compared on both databases; one whose UTC value could leave years 1-9999 is a 422."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from httpx import AsyncClient

from tests.factories import DomainFactory
from tests.support.tasks import TASKS

# Valid RFC 3339 whose UTC value is in year 10000 or year 0.
OUTSIDE = ["9999-12-31T23:00:00-05:00", "9999-12-31T00:01:00-23:59", "0001-01-01T00:00:00+01:00"]
FIRST, LAST = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"


def assert_calendar_422(response_json: dict[str, object], loc: list[str]) -> None:
    detail = response_json["detail"]
    assert isinstance(detail, list)
    assert detail[0]["loc"] == loc
    assert "0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z" in detail[0]["msg"]


@pytest.mark.parametrize("due_date", OUTSIDE)
async def test_create_refuses_a_due_date_outside_the_calendar_in_utc(
    client: AsyncClient, make: DomainFactory, due_date: str
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.post(
        TASKS,
        json={"title": "t", "project_id": project.id, "due_date": due_date},
        headers=make.headers(owner),
    )

    assert response.status_code == 422, response.text
    assert_calendar_422(response.json(), ["body", "due_date"])


@pytest.mark.parametrize("due_date", OUTSIDE)
async def test_patch_and_bulk_update_refuse_a_due_date_outside_the_calendar(
    client: AsyncClient, make: DomainFactory, due_date: str
) -> None:
    owner = await make()
    task = await make.task(await make.project(owner))
    headers = make.headers(owner)

    patched = await client.patch(f"{TASKS}/{task.id}", json={"due_date": due_date}, headers=headers)
    bulk = await client.post(
        f"{TASKS}/bulk-update",
        json={"task_ids": [task.id], "update_data": {"due_date": due_date}},
        headers=headers,
    )

    assert patched.status_code == 422, patched.text
    assert_calendar_422(patched.json(), ["body", "due_date"])
    assert bulk.status_code == 422, bulk.text
    assert_calendar_422(bulk.json(), ["body", "update_data", "due_date"])


@pytest.mark.parametrize("name", ["due_before", "due_after"])
@pytest.mark.parametrize("value", OUTSIDE)
async def test_due_filters_refuse_a_date_time_outside_the_calendar(
    client: AsyncClient, make: DomainFactory, name: str, value: str
) -> None:
    owner = await make()

    response = await client.get(TASKS, params={name: value}, headers=make.headers(owner))

    assert response.status_code == 422, response.text
    assert_calendar_422(response.json(), ["query", name])


async def test_the_first_and_last_instants_are_stored_compared_and_paged(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    # Inside the calendar once in UTC, though the local day is the first or last one.
    edges = [FIRST, LAST, "9999-12-30T23:59:59-23:59", "0001-01-02T00:00:00+23:59"]
    created = [
        await client.post(
            TASKS, json={"title": due, "project_id": project.id, "due_date": due}, headers=headers
        )
        for due in edges
    ]

    before_last = await client.get(TASKS, params={"due_before": LAST}, headers=headers)
    after_first = await client.get(TASKS, params={"due_after": FIRST}, headers=headers)
    by_due_date: list[str] = []
    page = await client.get(TASKS, params={"sort": "due_date", "limit": 1}, headers=headers)
    while True:  # by cursor, one task a page: each cursor holds an edge date
        assert page.status_code == 200, page.text
        by_due_date += [task["title"] for task in page.json()]
        if "next" not in page.links or len(by_due_date) > 4:
            break
        page = await client.get(page.links["next"]["url"], headers=headers)

    assert [response.status_code for response in created] == [201] * 4
    assert [datetime.fromisoformat(r.json()["due_date"]) for r in created] == [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 58, 59, tzinfo=UTC),
        datetime(1, 1, 1, 0, 1, tzinfo=UTC),
    ]
    assert before_last.headers["X-Total-Count"] == "3"
    assert after_first.headers["X-Total-Count"] == "3"
    assert by_due_date == [
        edges[0],
        edges[3],
        edges[2],
        edges[1],
    ]
