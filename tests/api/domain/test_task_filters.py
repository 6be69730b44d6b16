"""Filtering the task list: by project, status, assignee, priority, text and due dates,
combined, and only over visible tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from httpx import AsyncClient

from tests.factories import DomainFactory
from tests.support.tasks import TASKS, assert_422_at, ids, listed, shared_project

# --- project_id ----------------------------------------------------------------------------


async def test_project_id_keeps_the_tasks_of_that_project(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, first = await shared_project(make)
    second = await make.project(owner)
    mine = await make.tasks(first, 2)
    await make.tasks(second, 3)

    got, total = await listed(client, make.headers(owner), project_id=first.id)

    assert sorted(got) == sorted(ids(*mine))
    assert total == 2


async def test_without_filters_a_member_lists_the_tasks_of_all_its_projects_only(
    client: AsyncClient, make: DomainFactory
) -> None:
    me, other = await make(), await make()
    own = await make.project(me)
    shared = await make.project(other)
    hidden = await make.project(other)
    await make.member(shared, me, "viewer")
    visible = [await make.task(own), await make.task(shared)]
    await make.tasks(hidden, 2)

    got, total = await listed(client, make.headers(me))

    assert sorted(got) == sorted(ids(*visible))
    assert total == 2


async def test_an_admin_lists_the_tasks_of_every_project(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, first, second = await make.admin(), await make(), await make()
    tasks = [
        await make.task(await make.project(first)),
        await make.task(await make.project(second)),
    ]

    got, total = await listed(client, make.headers(admin))

    assert sorted(got) == sorted(ids(*tasks))
    assert total == 2


# --- status, with controlled time ----------------------------------------------------------


async def test_status_filters_follow_the_clock(client: AsyncClient, make: DomainFactory) -> None:
    owner, project = await shared_project(make)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    done = await make.task(
        project, is_completed=True, completed_at=start, due_date=start - timedelta(days=1)
    )
    late = await make.task(project, due_date=start - timedelta(hours=1))
    soon = await make.task(project, due_date=start + timedelta(hours=1))
    undated = await make.task(project)

    with time_machine.travel(start, tick=False):
        headers = make.headers(owner)
        before = {
            status: sorted((await listed(client, headers, status=status))[0])
            for status in ("completed", "overdue", "pending")
        }
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        headers = make.headers(owner)
        after = {
            status: sorted((await listed(client, headers, status=status))[0])
            for status in ("completed", "overdue", "pending")
        }

    assert before == {
        "completed": ids(done),
        "overdue": ids(late),
        "pending": sorted(ids(soon, undated)),
    }
    assert after == {
        "completed": ids(done),
        "overdue": sorted(ids(late, soon)),
        "pending": ids(undated),
    }


async def test_a_task_due_exactly_now_is_pending_and_overdue_a_moment_later(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, project = await shared_project(make)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    task = await make.task(project, due_date=due)

    with time_machine.travel(due, tick=False):
        headers = make.headers(owner)
        pending_at_due = await listed(client, headers, status="pending")
        overdue_at_due = await listed(client, headers, status="overdue")
    with time_machine.travel(due + timedelta(seconds=1), tick=False):
        headers = make.headers(owner)
        pending_after = await listed(client, headers, status="pending")
        overdue_after = await listed(client, headers, status="overdue")

    assert pending_at_due == (ids(task), 1)
    assert overdue_at_due == ([], 0)
    assert pending_after == ([], 0)
    assert overdue_after == (ids(task), 1)


async def test_a_completed_task_past_its_due_date_is_completed_not_overdue(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, project = await shared_project(make)
    now = datetime.now(UTC)
    task = await make.task(
        project, is_completed=True, completed_at=now, due_date=now - timedelta(days=3)
    )
    headers = make.headers(owner)

    assert await listed(client, headers, status="completed") == (ids(task), 1)
    assert await listed(client, headers, status="overdue") == ([], 0)
    assert await listed(client, headers, status="pending") == ([], 0)


async def test_an_unknown_status_is_422(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()

    response = await client.get(TASKS, params={"status": "late"}, headers=make.headers(owner))

    assert_422_at(response, ["query", "status"])


# --- assignee ------------------------------------------------------------------------------


async def test_assignee_id_keeps_the_tasks_assigned_to_that_user(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, project = await shared_project(make)
    editor = await make()
    await make.member(project, editor, "editor")
    theirs = await make.task(project, assignee_id=editor.id)
    await make.task(project, assignee_id=owner.id)
    await make.task(project)

    assert await listed(client, make.headers(owner), assignee_id=editor.id) == (ids(theirs), 1)


async def test_assignee_me_keeps_the_tasks_assigned_to_the_caller(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, project = await shared_project(make)
    editor = await make()
    await make.member(project, editor, "editor")
    mine = await make.task(project, assignee_id=editor.id)
    await make.task(project, assignee_id=owner.id)
    await make.task(project)
    headers = make.headers(editor)

    assert await listed(client, headers, assignee="me") == (ids(mine), 1)
    assert await listed(client, headers, assignee="me", assignee_id=editor.id) == (ids(mine), 1)


async def test_assignee_me_and_assignee_id_combine_with_and(
    client: AsyncClient, make: DomainFactory
) -> None:
    me, other = await make(), await make()
    project = await make.project(me)
    await make.member(project, other, "editor")
    mine = await make.task(project, assignee_id=me.id)
    await make.task(project, assignee_id=other.id)
    headers = make.headers(me)

    both_me = await listed(client, headers, assignee="me", assignee_id=me.id)
    me_and_other = await listed(client, headers, assignee="me", assignee_id=other.id)

    assert both_me == (ids(mine), 1)
    assert me_and_other == ([], 0)


async def test_assignee_other_than_me_is_422(client: AsyncClient, make: DomainFactory) -> None:
    me = await make()

    response = await client.get(TASKS, params={"assignee": "you"}, headers=make.headers(me))

    assert_422_at(response, ["query", "assignee"])


# --- priority ------------------------------------------------------------------------------


async def test_priority_and_priority_min_filter_by_priority(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, project = await shared_project(make)
    by_priority = {p: await make.task(project, priority=p) for p in (1, 2, 3, 4, 5)}
    headers = make.headers(owner)

    exactly, exactly_total = await listed(client, headers, priority=3)
    at_least, at_least_total = await listed(client, headers, priority_min=4)

    assert (exactly, exactly_total) == (ids(by_priority[3]), 1)
    assert sorted(at_least) == sorted(ids(by_priority[4], by_priority[5]))
    assert at_least_total == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [("priority", 0), ("priority", 6), ("priority_min", 0), ("priority_min", 6)],
)
async def test_a_priority_filter_outside_1_to_5_is_422(
    client: AsyncClient, make: DomainFactory, name: str, value: int
) -> None:
    me = await make()

    response = await client.get(TASKS, params={name: value}, headers=make.headers(me))

    assert_422_at(response, ["query", name])


# --- search --------------------------------------------------------------------------------


async def test_search_matches_title_and_description_without_regard_to_case(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, project = await shared_project(make)
    in_title = await make.task(project, title="Deploy the Release", description="quiet")
    in_description = await make.task(project, title="Quiet", description="before the RELEASE day")
    await make.task(project, title="Unrelated", description="nothing here")

    got, total = await listed(client, make.headers(owner), search="rElEaSe")

    assert sorted(got) == sorted(ids(in_title, in_description))
    assert total == 2


@pytest.mark.parametrize(
    ("search", "matching", "other"),
    [
        ("100%", "Reach 100% coverage", "Reach 1000 users"),
        ("e_c", "snake_case names", "snakeXcase names"),
        ("a/b", "switch a/b test", "switch ab test"),
    ],
    ids=["percent", "underscore", "slash"],
)
@pytest.mark.parametrize("field", ["title", "description"])
async def test_search_takes_wildcard_characters_literally(
    client: AsyncClient,
    make: DomainFactory,
    search: str,
    matching: str,
    other: str,
    field: str,
) -> None:
    owner, project = await shared_project(make)
    blank = {"title": "Untitled", "description": None}
    hit = await make.task(project, **{**blank, field: matching})
    await make.task(project, **{**blank, field: other})

    assert await listed(client, make.headers(owner), search=search) == (ids(hit), 1)


async def test_search_ignores_case_of_non_ascii_letters(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, project = await shared_project(make)
    hit = await make.task(project, title="Über die Brücke", description=None)
    await make.task(project, title="Unter der Brücke", description=None)

    assert await listed(client, make.headers(owner), search="üBER") == (ids(hit), 1)


# --- due dates -----------------------------------------------------------------------------


async def test_due_before_and_due_after_are_strict_and_leave_out_undated_tasks(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, project = await shared_project(make)
    pivot = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
    early = await make.task(project, due_date=pivot - timedelta(days=1))
    exact = await make.task(project, due_date=pivot)
    late = await make.task(project, due_date=pivot + timedelta(days=1))
    await make.task(project, due_date=None)
    headers = make.headers(owner)

    before = await listed(client, headers, due_before=pivot.isoformat())
    after = await listed(client, headers, due_after=pivot.isoformat())
    between = await listed(
        client,
        headers,
        due_after=(pivot - timedelta(days=2)).isoformat(),
        due_before=(pivot + timedelta(hours=1)).isoformat(),
    )

    assert before == (ids(early), 1)
    assert after == (ids(late), 1)
    assert sorted(between[0]) == sorted(ids(early, exact))
    assert between[1] == 2


async def test_due_filters_honour_offsets(client: AsyncClient, make: DomainFactory) -> None:
    owner, project = await shared_project(make)
    task = await make.task(project, due_date=datetime(2031, 3, 1, 12, 0, tzinfo=UTC))
    headers = make.headers(owner)

    utc_after = await listed(client, headers, due_after="2031-03-01T11:59:00Z")
    utc_before = await listed(client, headers, due_before="2031-03-01T11:59:00Z")
    offset_before = await listed(client, headers, due_before="2031-03-01T13:01:00+01:00")

    assert utc_after == (ids(task), 1)
    assert utc_before == ([], 0)
    assert offset_before == (ids(task), 1)


@pytest.mark.parametrize("value", ["2031-03-01T11:59:00", "2031-03-01", "1700000000", "0.5"])
async def test_a_due_filter_without_an_offset_or_as_a_number_is_422(
    client: AsyncClient, make: DomainFactory, value: str
) -> None:
    me = await make()

    response = await client.get(TASKS, params={"due_after": value}, headers=make.headers(me))

    assert_422_at(response, ["query", "due_after"])


async def test_an_invalid_due_filter_is_422(client: AsyncClient, make: DomainFactory) -> None:
    me = await make()

    response = await client.get(TASKS, params={"due_before": "soon"}, headers=make.headers(me))

    assert_422_at(response, ["query", "due_before"])


# --- filters combined ----------------------------------------------------------------------


async def test_filters_combine_with_and(client: AsyncClient, make: DomainFactory) -> None:
    owner, project = await shared_project(make)
    other_project = await make.project(owner)
    editor = await make()
    await make.member(project, editor, "editor")
    await make.member(other_project, editor, "editor")
    now = datetime.now(UTC)
    past = now - timedelta(days=1)
    wanted: dict[str, Any] = {
        "title": "Fix login bug",
        "description": None,
        "priority": 4,
        "assignee_id": editor.id,
        "due_date": past,
    }
    hit = await make.task(project, **wanted)
    await make.task(other_project, **wanted)
    await make.task(project, **{**wanted, "priority": 2})
    await make.task(project, **{**wanted, "assignee_id": owner.id})
    await make.task(project, **{**wanted, "title": "Fix signup"})
    await make.task(project, **{**wanted, "is_completed": True, "completed_at": now})
    await make.task(project, **{**wanted, "due_date": now + timedelta(days=3)})

    got = await listed(
        client,
        make.headers(editor),
        project_id=project.id,
        status="overdue",
        assignee="me",
        priority_min=3,
        search="LOGIN",
        due_before=now.isoformat(),
        due_after=(now - timedelta(days=2)).isoformat(),
    )

    assert got == (ids(hit), 1)


async def test_priority_with_status_and_project_combine(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, project = await shared_project(make)
    now = datetime.now(UTC)
    hit = await make.task(project, priority=2, is_completed=True, completed_at=now)
    await make.task(project, priority=2)
    await make.task(project, priority=3, is_completed=True, completed_at=now)
    await make.task(await make.project(owner), priority=2, is_completed=True, completed_at=now)

    got = await listed(
        client, make.headers(owner), project_id=project.id, status="completed", priority=2
    )

    assert got == (ids(hit), 1)


# --- visibility (BOLA) ---------------------------------------------------------------------


async def test_no_filter_shows_another_users_tasks(
    client: AsyncClient, make: DomainFactory
) -> None:
    alice, bob = await make(), await make()
    alices = await make.project(alice)
    now = datetime.now(UTC)
    await make.task(alices, title="Secret plan", assignee_id=alice.id, priority=5, due_date=now)
    await make.task(
        alices, title="Secret done", is_completed=True, completed_at=now, assignee_id=alice.id
    )
    await make.task(alices, title="Secret later", due_date=now + timedelta(days=1))
    bobs_task = await make.task(
        await make.project(bob), title="Bob's own", description=None, priority=1
    )
    headers = make.headers(bob)
    day = timedelta(days=2)

    for params in (
        {},
        {"project_id": alices.id},
        {"assignee_id": alice.id},
        {"search": "secret"},
        {"status": "completed"},
        {"status": "overdue"},
        {"status": "pending", "project_id": alices.id},
        {"priority": 5},
        {"priority_min": 1, "project_id": alices.id},
        {"due_before": (now + day).isoformat()},
        {"due_after": (now - day).isoformat()},
        {"sort": "due_date", "project_id": alices.id},
    ):
        got, total = await listed(client, headers, **params)
        expected = ids(bobs_task) if not params else []
        assert (got, total) == (expected, len(expected)), params


async def test_a_project_id_of_an_invisible_project_gives_an_empty_list(
    client: AsyncClient, make: DomainFactory
) -> None:
    alice, bob = await make(), await make()
    alices = await make.project(alice)
    await make.tasks(alices, 3)

    response = await client.get(TASKS, params={"project_id": alices.id}, headers=make.headers(bob))

    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"
    assert "Link" not in response.headers
