"""Editing and deleting a comment: who may, If-Match, archived projects, what it counts
and records."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import assert_error, error_locs, parse_time
from tests.support.comments import (
    comment_count,
    comment_events,
    comment_url,
    posted,
    project_with_people,
    stored_comment,
)
from tests.support.projects import MISSING_ID, PROJECTS

Sessions = async_sessionmaker[AsyncSession]


# --- PATCH --------------------------------------------------------------------------------


async def test_the_author_edits_the_body_and_the_etag_moves_on(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)
    headers = make.headers(people["editor"])
    comment = await posted(client, headers, task.id, "first")

    response = await client.patch(
        comment_url(comment["id"]), json={"body": " second\n"}, headers=headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["body"], body["edited"], body["author"]) == (" second\n", True, comment["author"])
    assert parse_time(body["updated_at"]) > parse_time(comment["updated_at"])
    assert body["created_at"] == comment["created_at"]
    assert response.headers["ETag"] == '"2"'
    read = await client.get(comment_url(comment["id"]), headers=headers)
    assert read.json() == body
    assert read.headers["ETag"] == '"2"'
    stored = await stored_comment(sessionmaker, comment["id"])
    assert stored is not None
    assert (stored.body, stored.version) == (" second\n", 2)


@pytest.mark.parametrize("other", ["owner", "admin", "another editor"])
async def test_anyone_but_the_author_may_not_edit_403(
    other: str, client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    project, task, people = await project_with_people(make)
    comment = await posted(client, make.headers(people["editor"]), task.id, "mine")
    if other == "another editor":
        caller = await make()
        await make.member(project, caller, "editor")
    else:
        caller = people[other]

    response = await client.patch(
        comment_url(comment["id"]), json={"body": "theirs"}, headers=make.headers(caller)
    )

    assert_error(response, 403, "forbidden")
    stored = await stored_comment(sessionmaker, comment["id"])
    assert stored is not None
    assert (stored.body, stored.version) == ("mine", 1)


async def test_a_viewer_may_not_edit_403_even_its_own_comment_after_a_demotion(
    client: AsyncClient, make: DomainFactory
) -> None:
    project, task, people = await project_with_people(make)
    editor, owner = people["editor"], make.headers(people["owner"])
    comment = await posted(client, make.headers(editor), task.id, "mine")
    demoted = await client.patch(
        f"{PROJECTS}/{project.id}/members/{editor.id}", json={"role": "viewer"}, headers=owner
    )
    assert demoted.status_code == 200, demoted.text

    for caller in (people["viewer"], editor):
        response = await client.patch(
            comment_url(comment["id"]), json={"body": "x"}, headers=make.headers(caller)
        )
        assert_error(response, 403, "forbidden")


@pytest.mark.parametrize("who", ["outsider", "missing comment"])
async def test_a_comment_the_caller_cannot_see_is_404_on_patch_and_delete(
    who: str, client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)
    comment = await posted(client, make.headers(people["editor"]), task.id, "mine")
    comment_id = MISSING_ID if who == "missing comment" else comment["id"]
    headers = make.headers(people["outsider"] if who == "outsider" else people["owner"])

    patched = await client.patch(comment_url(comment_id), json={"body": "x"}, headers=headers)
    deleted = await client.delete(comment_url(comment_id), headers=headers)

    assert_error(patched, 404, "not_found")
    assert_error(deleted, 404, "not_found")
    assert await comment_count(sessionmaker, task.id) == (1, 1)


async def test_an_outsiders_own_comment_is_404_once_it_left_the_project(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    project, task, people = await project_with_people(make)
    editor = people["editor"]
    comment = await posted(client, make.headers(editor), task.id, "mine")
    left = await client.delete(
        f"{PROJECTS}/{project.id}/members/{editor.id}", headers=make.headers(editor)
    )
    assert left.status_code == 204, left.text
    headers = make.headers(editor)

    assert_error(await client.get(comment_url(comment["id"]), headers=headers), 404, "not_found")
    patched = await client.patch(comment_url(comment["id"]), json={"body": "x"}, headers=headers)
    assert_error(patched, 404, "not_found")
    assert_error(await client.delete(comment_url(comment["id"]), headers=headers), 404, "not_found")
    assert await comment_count(sessionmaker, task.id) == (1, 1)


async def test_a_stale_if_match_is_412_and_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)
    headers = make.headers(people["editor"])
    comment = await posted(client, headers, task.id, "first")
    url = comment_url(comment["id"])
    first = await client.patch(url, json={"body": "second"}, headers={**headers, "If-Match": '"1"'})
    assert first.status_code == 200, first.text

    stale = {**headers, "If-Match": '"1"'}
    patched = await client.patch(url, json={"body": "lost"}, headers=stale)
    deleted = await client.delete(url, headers=stale)
    weak = await client.patch(url, json={"body": "lost"}, headers={**headers, "If-Match": 'W/"2"'})

    for response in (patched, deleted, weak):
        assert_error(response, 412, "precondition_failed")
    stored = await stored_comment(sessionmaker, comment["id"])
    assert stored is not None
    assert (stored.body, stored.version) == ("second", 2)
    star = await client.patch(url, json={"body": "third"}, headers={**headers, "If-Match": "*"})
    assert star.headers["ETag"] == '"3"'


@pytest.mark.parametrize(
    "payload",
    [
        {"body": ""},
        {"body": "   "},
        {"body": "a" * 10_001},
        {},
        {"body": None},
        {"body": "x", "task_id": 2},
    ],
)
async def test_a_bad_patch_body_is_422(
    payload: dict[str, object], client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)
    headers = make.headers(people["editor"])
    comment = await posted(client, headers, task.id, "kept")

    response = await client.patch(comment_url(comment["id"]), json=payload, headers=headers)

    assert error_locs(response)
    stored = await stored_comment(sessionmaker, comment["id"])
    assert stored is not None
    assert stored.body == "kept"


async def test_a_comment_id_out_of_range_is_422_on_patch_and_delete(
    client: AsyncClient, make: DomainFactory
) -> None:
    headers = make.headers(await make())

    patched = await client.patch(comment_url(0), json={"body": "x"}, headers=headers)
    deleted = await client.delete(comment_url(2**63), headers=headers)

    assert ["path", "comment_id"] in error_locs(patched)
    assert ["path", "comment_id"] in error_locs(deleted)


async def test_editing_records_the_old_and_new_body_and_counts_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)
    editor = people["editor"]
    headers = make.headers(editor)
    comment = await posted(client, headers, task.id, "old")

    await client.patch(comment_url(comment["id"]), json={"body": "new"}, headers=headers)

    events = await comment_events(sessionmaker, task.id)
    assert events[1:] == [("comment.updated", editor.id, {"body": ["old", "new"]})]
    assert await comment_count(sessionmaker, task.id) == (1, 1)


# --- DELETE -------------------------------------------------------------------------------


@pytest.mark.parametrize("deleter", ["author", "owner", "admin"])
async def test_the_author_the_owner_or_an_admin_deletes_a_comment_204(
    deleter: str, client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)
    author = people["editor"]
    comment = await posted(client, make.headers(author), task.id, "bye")
    kept = await posted(client, make.headers(author), task.id, "stays")
    caller = author if deleter == "author" else people[deleter]

    response = await client.delete(comment_url(comment["id"]), headers=make.headers(caller))

    assert response.status_code == 204, response.text
    assert await stored_comment(sessionmaker, comment["id"]) is None
    assert await comment_count(sessionmaker, task.id) == (1, 1)
    task_read = await client.get(f"/api/v1/tasks/{task.id}", headers=make.headers(author))
    assert (task_read.json()["comment_count"], task_read.headers["ETag"]) == (1, '"1"')
    gone = await client.get(comment_url(comment["id"]), headers=make.headers(author))
    assert_error(gone, 404, "not_found")
    assert (await stored_comment(sessionmaker, kept["id"])) is not None
    events = await comment_events(sessionmaker, task.id)
    assert events[-1] == (
        "comment.deleted",
        caller.id,
        {"id": [comment["id"], None], "body": ["bye", None]},
    )


@pytest.mark.parametrize("other", ["another editor", "viewer"])
async def test_editors_and_viewers_may_not_delete_anothers_comment_403(
    other: str, client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    project, task, people = await project_with_people(make)
    comment = await posted(client, make.headers(people["owner"]), task.id)
    if other == "viewer":
        caller = people["viewer"]
    else:
        caller = await make()
        await make.member(project, caller, "editor")

    response = await client.delete(comment_url(comment["id"]), headers=make.headers(caller))

    assert_error(response, 403, "forbidden")
    assert await comment_count(sessionmaker, task.id) == (1, 1)
    assert [event[0] for event in await comment_events(sessionmaker, task.id)] == [
        "comment.created"
    ]


async def test_an_archived_projects_comments_cannot_be_edited_or_deleted_409(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    project, task, people = await project_with_people(make)
    editor = make.headers(people["editor"])
    comment = await posted(client, editor, task.id, "frozen")
    archived = await client.patch(
        f"{PROJECTS}/{project.id}",
        json={"is_archived": True},
        headers=make.headers(people["owner"]),
    )
    assert archived.status_code == 200, archived.text
    url = comment_url(comment["id"])

    assert_error(
        await client.patch(url, json={"body": "x"}, headers=editor), 409, "project_archived"
    )
    for deleter in ("editor", "owner", "admin"):
        response = await client.delete(url, headers=make.headers(people[deleter]))
        assert_error(response, 409, "project_archived")
    stored = await stored_comment(sessionmaker, comment["id"])
    assert stored is not None
    assert (stored.body, stored.version) == ("frozen", 1)
    assert await comment_count(sessionmaker, task.id) == (1, 1)


async def test_sending_the_same_body_again_changes_nothing(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    _, task, people = await project_with_people(make)
    headers = make.headers(people["editor"])
    comment = await posted(client, headers, task.id, "same")

    response = await client.patch(
        comment_url(comment["id"]), json={"body": "same"}, headers=headers
    )

    assert response.status_code == 200, response.text
    assert response.json() == comment
    assert response.headers["ETag"] == '"1"'
    assert [event[0] for event in await comment_events(sessionmaker, task.id)] == [
        "comment.created"
    ]
