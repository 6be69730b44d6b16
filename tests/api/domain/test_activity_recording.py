"""Every write of a project, its members and its tasks records its activity event, in the
same transaction: with the caller as actor, what changed as `{field: [old, new]}`, and the
request's id. A write that is refused or rolled back leaves none."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.activity import API, request_id, stored_events
from tests.support.api import assert_error
from tests.support.tasks import TASKS

PROJECTS = f"{API}/projects"


# --- projects -------------------------------------------------------------------------------


async def test_project_create_change_archive_and_delete_record_their_events(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    headers = make.headers(owner)

    created = await client.post(PROJECTS, json={"name": "Launch"}, headers=headers)
    project_id = created.json()["id"]
    url = f"{PROJECTS}/{project_id}"
    renamed = await client.patch(
        url, json={"name": "Lift-off", "description": "Go"}, headers=headers
    )
    archived = await client.patch(url, json={"is_archived": True}, headers=headers)
    unarchived = await client.patch(url, json={"is_archived": False}, headers=headers)
    deleted = await client.delete(url, headers=headers)

    assert [r.status_code for r in (created, renamed, archived, unarchived, deleted)] == [
        201,
        200,
        200,
        200,
        204,
    ]
    events = await stored_events(sessionmaker, project_id=project_id)
    assert [(e.type, e.actor_id, e.task_id, e.changes, e.request_id) for e in events] == [
        ("project.created", owner.id, None, {"name": [None, "Launch"]}, request_id(created)),
        (
            "project.updated",
            owner.id,
            None,
            {"name": ["Launch", "Lift-off"], "description": [None, "Go"]},
            request_id(renamed),
        ),
        ("project.archived", owner.id, None, {"is_archived": [False, True]}, request_id(archived)),
        (
            "project.unarchived",
            owner.id,
            None,
            {"is_archived": [True, False]},
            request_id(unarchived),
        ),
        ("project.deleted", owner.id, None, {"name": ["Lift-off", None]}, request_id(deleted)),
    ]


async def test_a_project_change_that_changes_nothing_records_no_event(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner, name="Same")

    response = await client.patch(
        f"{PROJECTS}/{project.id}", json={"name": "Same"}, headers=make.headers(owner)
    )

    assert response.status_code == 200, response.text
    assert await stored_events(sessionmaker, project_id=project.id) == []


async def test_a_project_change_with_a_stale_if_match_leaves_no_event(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = {**make.headers(owner), "If-Match": '"99"'}

    changed = await client.patch(f"{PROJECTS}/{project.id}", json={"name": "X"}, headers=headers)
    deleted = await client.delete(f"{PROJECTS}/{project.id}", headers=headers)

    assert_error(changed, 412, "precondition_failed")
    assert_error(deleted, 412, "precondition_failed")
    assert await stored_events(sessionmaker, project_id=project.id) == []


# --- members --------------------------------------------------------------------------------


async def test_member_add_role_change_and_removal_record_their_events(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, helper = await make(), await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    members = f"{PROJECTS}/{project.id}/members"

    added = await client.post(
        members, json={"email": helper.email, "role": "viewer"}, headers=headers
    )
    same = await client.patch(f"{members}/{helper.id}", json={"role": "viewer"}, headers=headers)
    promoted = await client.patch(
        f"{members}/{helper.id}", json={"role": "editor"}, headers=headers
    )
    task = await make.task(project, assignee_id=helper.id)
    removed = await client.delete(f"{members}/{helper.id}", headers=headers)

    assert [r.status_code for r in (added, same, promoted, removed)] == [201, 200, 200, 204]
    events = await stored_events(sessionmaker, project_id=project.id)
    assert [(e.type, e.actor_id, e.task_id, e.changes, e.request_id) for e in events] == [
        (
            "member.added",
            owner.id,
            None,
            {"user_id": [None, helper.id], "role": [None, "viewer"]},
            request_id(added),
        ),
        (
            "member.role_changed",
            owner.id,
            None,
            {"user_id": [helper.id, helper.id], "role": ["viewer", "editor"]},
            request_id(promoted),
        ),
        (
            "member.removed",
            owner.id,
            None,
            {"user_id": [helper.id, None], "role": ["editor", None]},
            request_id(removed),
        ),
        # Its tasks there are unassigned by the same request.
        (
            "task.updated",
            owner.id,
            task.id,
            {"assignee_id": [helper.id, None]},
            request_id(removed),
        ),
    ]


async def test_adding_someone_already_a_member_is_409_and_leaves_no_event(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, helper = await make(), await make()
    project = await make.project(owner)
    await make.member(project, helper, "editor")

    response = await client.post(
        f"{PROJECTS}/{project.id}/members",
        json={"email": helper.email, "role": "viewer"},
        headers=make.headers(owner),
    )

    assert_error(response, 409, "already_member")
    assert await stored_events(sessionmaker, project_id=project.id) == []


# --- tasks ----------------------------------------------------------------------------------


async def test_task_create_change_complete_reopen_and_delete_record_their_events(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, editor = await make(), await make()
    project = await make.project(owner)
    await make.member(project, editor, "editor")
    headers = make.headers(editor)

    created = await client.post(
        TASKS, json={"title": "Write", "project_id": project.id}, headers=headers
    )
    url = f"{TASKS}/{created.json()['id']}"
    changed = await client.patch(
        url, json={"title": "Write it", "priority": 5, "assignee_id": owner.id}, headers=headers
    )
    completed = await client.patch(url, json={"is_completed": True}, headers=headers)
    completed_at = completed.json()["completed_at"]
    reopened = await client.patch(url, json={"is_completed": False}, headers=headers)
    unchanged = await client.patch(url, json={"priority": 5}, headers=headers)
    deleted = await client.delete(url, headers=headers)

    assert [r.status_code for r in (created, changed, completed, reopened, unchanged)] == [
        201,
        200,
        200,
        200,
        200,
    ]
    assert deleted.status_code == 204
    task_id = created.json()["id"]
    events = await stored_events(sessionmaker, task_id=task_id)
    assert all((e.actor_id, e.project_id) == (editor.id, project.id) for e in events)
    stored_completed_at = events[2].changes["completed_at"][1]
    # Completing goes to the first done status, reopening to the first todo one.
    todo, done = created.json()["status"]["id"], completed.json()["status"]["id"]
    assert reopened.json()["status"]["id"] == todo != done
    assert stored_completed_at[:19] == completed_at[:19]
    assert [(e.type, e.changes, e.request_id) for e in events] == [
        ("task.created", {"title": [None, "Write"]}, request_id(created)),
        (
            "task.updated",
            {"title": ["Write", "Write it"], "priority": [3, 5], "assignee_id": [None, owner.id]},
            request_id(changed),
        ),
        (
            "task.completed",
            {
                "is_completed": [False, True],
                "completed_at": [None, stored_completed_at],
                "status_id": [todo, done],
            },
            request_id(completed),
        ),
        (
            "task.reopened",
            {
                "is_completed": [True, False],
                "completed_at": [stored_completed_at, None],
                "status_id": [done, todo],
            },
            request_id(reopened),
        ),
        # The change to priority 5, which it already had, changed nothing: no event.
        ("task.deleted", {"title": ["Write it", None]}, request_id(deleted)),
    ]


async def test_deleting_a_task_records_task_deleted_for_it_and_each_subtask(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    ids: dict[str, int] = {}
    for title, parent in (("Top", None), ("Child", "Top"), ("Grandchild", "Child")):
        body = {"title": title, "project_id": project.id, "parent_id": ids.get(parent or "")}
        created = await client.post(TASKS, json=body, headers=headers)
        assert created.status_code == 201, created.text
        ids[title] = created.json()["id"]

    deleted = await client.delete(f"{TASKS}/{ids['Top']}", headers=headers)

    assert deleted.status_code == 204
    events = await stored_events(sessionmaker, project_id=project.id)
    gone = [(e.task_id, e.changes, e.request_id) for e in events if e.type == "task.deleted"]
    assert sorted(gone) == sorted(
        (ids[title], {"title": [title, None]}, request_id(deleted)) for title in ids
    )
    for title in ids:  # each one's own history is gone with it, its events are not
        assert (await client.get(f"{TASKS}/{ids[title]}", headers=headers)).status_code == 404


async def test_a_move_records_task_moved_in_the_target_project(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, helper = await make(), await make()
    source, target = await make.project(owner), await make.project(owner)
    await make.member(source, helper, "editor")
    task = await make.task(source, assignee_id=helper.id)

    moved = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": target.id}, headers=make.headers(owner)
    )

    assert moved.status_code == 200, moved.text
    events = await stored_events(sessionmaker, task_id=task.id)
    assert [(e.type, e.project_id, e.actor_id, e.changes, e.request_id) for e in events] == [
        (
            "task.moved",
            target.id,
            owner.id,
            # The assignee is not in the target project: the move clears it; the task goes
            # to the target's status of the same category.
            {
                "project_id": [source.id, target.id],
                "assignee_id": [helper.id, None],
                "status_id": [task.status_id, moved.json()["status"]["id"]],
            },
            request_id(moved),
        )
    ]


async def test_bulk_update_records_one_event_per_changed_task(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    open_task = await make.task(project, priority=1)
    done_task = await make.task(project, priority=1, is_completed=True)
    already = await make.task(project, priority=4)

    response = await client.post(
        f"{TASKS}/bulk-update",
        json={
            "task_ids": [open_task.id, done_task.id, already.id],
            "update_data": {"priority": 4},
        },
        headers=make.headers(owner),
    )
    completing = await client.post(
        f"{TASKS}/bulk-update",
        json={"task_ids": [open_task.id, done_task.id], "update_data": {"is_completed": True}},
        headers=make.headers(owner),
    )

    assert (response.status_code, completing.status_code) == (200, 200), response.text
    events = await stored_events(sessionmaker, project_id=project.id)
    assert [(e.type, e.task_id, e.actor_id, e.request_id) for e in events] == [
        # `already` had priority 4: nothing changed, no event.
        ("task.updated", open_task.id, owner.id, request_id(response)),
        ("task.updated", done_task.id, owner.id, request_id(response)),
        # done_task was complete already.
        ("task.completed", open_task.id, owner.id, request_id(completing)),
    ]
    assert events[0].changes == {"priority": [1, 4]}
    assert set(events[2].changes) == {"is_completed", "completed_at", "status_id"}


# --- writes that do not happen ----------------------------------------------------------------


async def test_refused_and_rolled_back_task_writes_leave_no_event(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, viewer = await make(), await make()
    project, archived = await make.project(owner), await make.project(owner, is_archived=True)
    await make.member(project, viewer, "viewer")
    task = await make.task(project)
    in_archive = await make.task(archived)
    headers = make.headers(owner)
    url = f"{TASKS}/{task.id}"

    stale = await client.patch(url, json={"title": "X"}, headers={**headers, "If-Match": '"9"'})
    stale_delete = await client.delete(url, headers={**headers, "If-Match": '"9"'})
    by_viewer = await client.patch(url, json={"title": "X"}, headers=make.headers(viewer))
    in_archived = await client.patch(
        f"{TASKS}/{in_archive.id}", json={"title": "X"}, headers=headers
    )
    created_in_archive = await client.post(
        TASKS, json={"title": "X", "project_id": archived.id}, headers=headers
    )
    # All or nothing: the first task could change, the archived one cannot.
    bulk = await client.post(
        f"{TASKS}/bulk-update",
        json={"task_ids": [task.id, in_archive.id], "update_data": {"priority": 5}},
        headers=headers,
    )
    move = await client.post(
        f"{TASKS}/{task.id}/move", json={"project_id": archived.id}, headers=headers
    )

    assert_error(stale, 412, "precondition_failed")
    assert_error(stale_delete, 412, "precondition_failed")
    assert_error(by_viewer, 403, "forbidden")
    for refused in (in_archived, created_in_archive, bulk, move):
        assert_error(refused, 409, "project_archived")
    assert await stored_events(sessionmaker, project_id=project.id) == []
    assert await stored_events(sessionmaker, project_id=archived.id) == []
