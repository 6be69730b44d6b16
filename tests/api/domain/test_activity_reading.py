"""Reading a history: GET /projects/{id}/activity and GET /tasks/{id}/activity, newest
first, cursor-paged, filtered by type (a trailing .* names a family), actor and time; for
anyone who sees the project or the task, and for nobody else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from httpx import AsyncClient
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.activity.models import ActivityEvent
from taskflow.users.models import User
from tests.factories import DomainFactory
from tests.support.activity import (
    API,
    history,
    kinds,
    project_activity_url,
    request_id,
    task_activity_url,
)
from tests.support.api import api_key_headers, assert_error, error_locs, links
from tests.support.tasks import TASKS

EVENT_FIELDS = {"id", "type", "actor", "project_id", "task_id", "at", "changes", "request_id"}


async def _a_project_with_history(
    client: AsyncClient, make: DomainFactory
) -> tuple[dict[str, str], int, int, int]:
    """A project made through the API (project.created), with a member added, and a task
    created, changed and completed: (owner's headers, project id, task id, member id)."""
    owner, member = await make(), await make()
    headers = make.headers(owner)
    project = (await client.post(f"{API}/projects", json={"name": "P"}, headers=headers)).json()
    added = await client.post(
        f"{API}/projects/{project['id']}/members",
        json={"email": member.email, "role": "editor"},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    task = await client.post(
        TASKS, json={"title": "T", "project_id": project["id"]}, headers=make.headers(member)
    )
    url = f"{TASKS}/{task.json()['id']}"
    assert (await client.patch(url, json={"priority": 1}, headers=headers)).status_code == 200
    completed = await client.patch(url, json={"is_completed": True}, headers=headers)
    assert completed.status_code == 200
    return headers, project["id"], task.json()["id"], member.id


# --- what a history shows ---------------------------------------------------------------------


async def test_a_project_history_is_newest_first_with_its_actors(
    client: AsyncClient, make: DomainFactory
) -> None:
    headers, project_id, task_id, member_id = await _a_project_with_history(client, make)

    response = await client.get(project_activity_url(project_id), headers=headers)

    assert response.status_code == 200, response.text
    events = response.json()
    assert kinds(events) == [
        "task.completed",
        "task.updated",
        "task.created",
        "member.added",
        "project.created",
    ]
    assert response.headers["X-Total-Count"] == "5"
    assert all(set(event) == EVENT_FIELDS for event in events)
    assert [event["id"] for event in events] == sorted((e["id"] for e in events), reverse=True)
    created = events[2]
    assert created["actor"]["id"] == member_id
    assert set(created["actor"]) == {"id", "email", "full_name"}
    assert (created["project_id"], created["task_id"]) == (project_id, task_id)
    assert created["changes"] == {"title": [None, "T"]}
    assert events[1]["changes"] == {"priority": [3, 1]}
    assert events[-1]["task_id"] is None
    assert datetime.fromisoformat(events[0]["at"]).tzinfo is not None


async def test_a_task_history_has_only_its_events(client: AsyncClient, make: DomainFactory) -> None:
    headers, project_id, task_id, _ = await _a_project_with_history(client, make)
    other = await client.post(TASKS, json={"title": "O", "project_id": project_id}, headers=headers)
    assert other.status_code == 201

    events = await history(client, headers, task_id=task_id)

    assert kinds(events) == ["task.completed", "task.updated", "task.created"]
    assert {event["task_id"] for event in events} == {task_id}


async def test_the_request_id_of_an_event_is_the_one_its_write_answered(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)

    created = await client.post(
        TASKS, json={"title": "Mine", "project_id": project.id}, headers=headers
    )

    (event,) = await history(client, headers, project_id=project.id)
    assert event["request_id"] == request_id(created)


async def test_a_deleted_tasks_events_stay_in_the_project_history(
    client: AsyncClient, make: DomainFactory
) -> None:
    headers, project_id, task_id, _ = await _a_project_with_history(client, make)

    deleted = await client.delete(f"{TASKS}/{task_id}", headers=headers)

    assert deleted.status_code == 204
    events = await history(client, headers, project_id=project_id, type="task.*")
    assert kinds(events) == ["task.deleted", "task.completed", "task.updated", "task.created"]
    assert {event["task_id"] for event in events} == {task_id}
    # The task itself is gone: its own history with it.
    assert_error(await client.get(task_activity_url(task_id), headers=headers), 404, "not_found")


async def test_an_event_whose_actor_is_gone_shows_no_actor(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, editor = await make(), await make()
    project = await make.project(owner)
    await make.member(project, editor, "editor")
    task = await make.task(project)
    changed = await client.patch(
        f"{TASKS}/{task.id}", json={"title": "Changed by the editor"}, headers=make.headers(editor)
    )
    assert changed.status_code == 200
    async with sessionmaker() as session:
        await session.execute(delete(User).where(User.id == editor.id))
        await session.commit()

    (event,) = await history(client, make.headers(owner), task_id=task.id)

    assert event["type"] == "task.updated"
    assert event["actor"] is None


async def test_viewers_and_api_keys_with_read_scopes_read_histories(
    client: AsyncClient, make: DomainFactory
) -> None:
    headers, project_id, task_id, _ = await _a_project_with_history(client, make)
    viewer = await make()
    owner_id = (await client.get(f"{API}/users/me", headers=headers)).json()["id"]
    assert owner_id
    await client.post(
        f"{API}/projects/{project_id}/members",
        json={"email": viewer.email, "role": "viewer"},
        headers=headers,
    )
    project_key = await api_key_headers(client, headers, "projects:read")
    task_key = await api_key_headers(client, headers, "tasks:read")

    as_viewer = await history(client, make.headers(viewer), project_id=project_id)
    by_project_key = await history(client, project_key, project_id=project_id)
    by_task_key = await history(client, task_key, task_id=task_id)

    assert kinds(as_viewer)[0] == "member.added"
    assert as_viewer == by_project_key
    assert kinds(by_task_key) == ["task.completed", "task.updated", "task.created"]


# --- filters ----------------------------------------------------------------------------------


async def test_type_filters_take_exact_types_and_families(
    client: AsyncClient, make: DomainFactory
) -> None:
    headers, project_id, _, _ = await _a_project_with_history(client, make)

    exact = await history(client, headers, project_id=project_id, type="task.created")
    several = await history(
        client, headers, project_id=project_id, type=["task.created", "member.added"]
    )
    family = await history(client, headers, project_id=project_id, type="task.*")
    mixed = await history(
        client, headers, project_id=project_id, type=["project.*", "task.updated"]
    )
    none = await history(client, headers, project_id=project_id, type="comment.*")

    assert kinds(exact) == ["task.created"]
    assert kinds(several) == ["task.created", "member.added"]
    assert kinds(family) == ["task.completed", "task.updated", "task.created"]
    assert kinds(mixed) == ["task.updated", "project.created"]
    assert none == []


async def test_actor_and_since_filters(client: AsyncClient, make: DomainFactory) -> None:
    headers, project_id, _, member_id = await _a_project_with_history(client, make)
    every = await history(client, headers, project_id=project_id)
    newest = datetime.fromisoformat(every[0]["at"])

    by_member = await history(client, headers, project_id=project_id, actor_id=member_id)
    since_newest = await history(client, headers, project_id=project_id, since=newest.isoformat())
    since_later = await history(
        client, headers, project_id=project_id, since=(newest + timedelta(seconds=1)).isoformat()
    )

    assert kinds(by_member) == ["task.created"]
    assert every[0] in since_newest
    assert all(datetime.fromisoformat(event["at"]) >= newest for event in since_newest)
    assert since_later == []


async def test_since_compares_times_not_ids(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers, project_id, _, _ = await _a_project_with_history(client, make)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    async with sessionmaker() as session:
        await session.execute(
            update(ActivityEvent)
            .where(ActivityEvent.project_id == project_id, ActivityEvent.type == "member.added")
            .values(at=long_ago)
        )
        await session.commit()

    events = await history(client, headers, project_id=project_id, since="2021-01-01T00:00:00Z")

    assert "member.added" not in kinds(events)
    assert len(events) == 4


async def test_bad_filters_are_422(client: AsyncClient, make: DomainFactory) -> None:
    headers, project_id, task_id, _ = await _a_project_with_history(client, make)

    for url in (project_activity_url(project_id), task_activity_url(task_id)):
        for params, loc in (
            ({"type": "task.exploded"}, ["query", "type"]),
            ({"type": "task"}, ["query", "type"]),
            ({"type": "*"}, ["query", "type"]),
            ({"type": "nothing.*"}, ["query", "type"]),
            ({"type": "task.%"}, ["query", "type"]),
            ({"actor_id": "0"}, ["query", "actor_id"]),
            ({"actor_id": "me"}, ["query", "actor_id"]),
            ({"since": "yesterday"}, ["query", "since"]),
            ({"since": "2026-01-01T00:00:00"}, ["query", "since"]),  # no offset
            ({"cursor": "bm90LWEtY3Vyc29y"}, ["query", "cursor"]),
            ({"limit": "0"}, ["query", "limit"]),
            ({"limit": "101"}, ["query", "limit"]),
        ):
            response = await client.get(url, headers=headers, params=params)
            assert loc in error_locs(response), (url, params, response.text)


# --- paging -----------------------------------------------------------------------------------


async def test_pages_follow_next_links_without_repeating_or_skipping(
    client: AsyncClient, make: DomainFactory
) -> None:
    headers, project_id, _, _ = await _a_project_with_history(client, make)
    every = await history(client, headers, project_id=project_id)

    seen: list[int] = []
    url: str | None = f"{project_activity_url(project_id)}?limit=2"
    while url is not None:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page) <= 2
        seen += [event["id"] for event in page]
        url = links(response).get("next")
        # A new event meanwhile does not shift the pages already handed out.
        await client.post(TASKS, json={"title": "Later", "project_id": project_id}, headers=headers)

    assert seen == [event["id"] for event in every]


async def test_filters_apply_across_pages(client: AsyncClient, make: DomainFactory) -> None:
    headers, project_id, _, _ = await _a_project_with_history(client, make)

    first = await client.get(
        project_activity_url(project_id), headers=headers, params={"type": "task.*", "limit": 2}
    )
    second = await client.get(links(first)["next"], headers=headers)

    assert kinds(first.json()) == ["task.completed", "task.updated"]
    assert kinds(second.json()) == ["task.created"]
    assert first.headers["X-Total-Count"] == "3"
    assert "next" not in links(second)


async def test_offset_paging_works_too(client: AsyncClient, make: DomainFactory) -> None:
    headers, project_id, _, _ = await _a_project_with_history(client, make)

    events = await history(client, headers, project_id=project_id, skip=3, limit=5)

    assert kinds(events) == ["member.added", "project.created"]


# --- who may read -----------------------------------------------------------------------------


async def test_outsiders_get_404_from_every_history_and_filter(
    client: AsyncClient, make: DomainFactory
) -> None:
    _, project_id, task_id, member_id = await _a_project_with_history(client, make)
    outsider = make.headers(await make())

    for url in (project_activity_url(project_id), task_activity_url(task_id)):
        for params in ({}, {"type": "task.*"}, {"actor_id": member_id}, {"limit": 1}):
            response = await client.get(url, headers=outsider, params=params)
            assert_error(response, 404, "not_found")
    for url in (project_activity_url(999_999_999), task_activity_url(999_999_999)):
        assert_error(await client.get(url, headers=outsider), 404, "not_found")


async def test_a_moved_task_history_follows_the_task(
    client: AsyncClient, make: DomainFactory
) -> None:
    headers, project_id, task_id, _ = await _a_project_with_history(client, make)
    target = await client.post(f"{API}/projects", json={"name": "Q"}, headers=headers)
    target_id = target.json()["id"]

    moved = await client.post(
        f"{TASKS}/{task_id}/move", json={"project_id": target_id}, headers=headers
    )

    assert moved.status_code == 200, moved.text
    assert kinds(await history(client, headers, task_id=task_id))[:2] == [
        "task.moved",
        "task.completed",
    ]
    in_target = await history(client, headers, project_id=target_id, type="task.*")
    assert [(e["type"], e["changes"]["project_id"]) for e in in_target] == [
        ("task.moved", [project_id, target_id])
    ]
    # It goes to the target's status of the same category.
    assert in_target[0]["changes"]["status_id"][1] == moved.json()["status"]["id"]


async def test_without_credentials_or_read_scopes_histories_refuse(
    client: AsyncClient, make: DomainFactory
) -> None:
    headers, project_id, task_id, _ = await _a_project_with_history(client, make)
    tasks_only = await api_key_headers(client, headers, "tasks:read")
    projects_only = await api_key_headers(client, headers, "projects:read")

    for url in (project_activity_url(project_id), task_activity_url(task_id)):
        assert_error(await client.get(url), 401, "not_authenticated")
    assert_error(
        await client.get(project_activity_url(project_id), headers=tasks_only),
        403,
        "insufficient_scope",
    )
    assert_error(
        await client.get(task_activity_url(task_id), headers=projects_only),
        403,
        "insufficient_scope",
    )
