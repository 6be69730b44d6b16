"""A project's labels: GET/POST /projects/{id}/labels, PATCH/DELETE /projects/{id}/labels/{id}."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import DomainFactory
from tests.support.api import api_key_headers, assert_error, error_locs
from tests.support.labels import LABEL_FIELDS, events, labels_url, new_label
from tests.support.projects import MISSING_ID


async def test_an_editor_creates_a_label_and_everyone_who_sees_the_project_reads_them(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, editor, viewer = await make(), await make(), await make()
    project = await make.project(owner)
    await make.member(project, editor, "editor")
    await make.member(project, viewer, "viewer")

    response = await client.post(
        labels_url(project),
        json={"name": "  urgent ", "color": "#FF0000"},
        headers=make.headers(editor),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == LABEL_FIELDS
    assert body == {
        "id": body["id"],
        "project_id": project.id,
        "name": "urgent",
        "color": "#FF0000",
    }
    assert response.headers["Location"].endswith(labels_url(project, body["id"]))
    located = await client.get(response.headers["Location"], headers=make.headers(viewer))
    assert located.json() == body
    await new_label(client, make.headers(owner), project, "Bug")
    await new_label(client, make.headers(owner), project, "backend")
    for reader in (owner, editor, viewer):
        listed = await client.get(labels_url(project), headers=make.headers(reader))
        assert listed.status_code == 200, listed.text
        assert [label["name"] for label in listed.json()] == ["backend", "Bug", "urgent"]


async def test_label_names_are_unique_per_project_whatever_their_case(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project, other = await make.project(owner), await make.project(owner)
    headers = make.headers(owner)
    first = await new_label(client, headers, project, "Urgent")
    second = await new_label(client, headers, project, "later")

    duplicate = await client.post(
        labels_url(project), json={"name": "URGENT", "color": "#000000"}, headers=headers
    )
    renamed = await client.patch(
        labels_url(project, second["id"]), json={"name": "urgent"}, headers=headers
    )
    own_case = await client.patch(
        labels_url(project, first["id"]), json={"name": "URGENT"}, headers=headers
    )

    assert_error(duplicate, 409, "conflict")
    assert_error(renamed, 409, "conflict")
    assert own_case.status_code == 200, own_case.text
    assert own_case.json()["name"] == "URGENT"
    # another project may have the same name
    await new_label(client, headers, other, "urgent")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "color": "#000000"}, "name"),
        ({"name": "   ", "color": "#000000"}, "name"),
        ({"name": "x" * 51, "color": "#000000"}, "name"),
        ({"name": "ok", "color": "red"}, "color"),
        ({"name": "ok", "color": "#12345"}, "color"),
        ({"name": "ok", "color": "#GGGGGG"}, "color"),
        ({"name": "ok"}, "color"),
        ({"color": "#000000"}, "name"),
        ({"name": "ok", "color": "#000000", "project_id": 1}, "project_id"),
    ],
)
async def test_a_label_needs_a_name_of_1_to_50_characters_and_a_hex_colour(
    client: AsyncClient, make: DomainFactory, body: dict[str, object], field: str
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.post(labels_url(project), json=body, headers=make.headers(owner))

    assert ["body", field] in error_locs(response)


async def test_a_50_character_name_is_taken(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)

    body = await new_label(client, make.headers(owner), project, "x" * 50)

    assert body["name"] == "x" * 50


async def test_patch_renames_and_recolours_and_null_is_refused(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    label = await new_label(client, headers, project, "old", "#000000")
    url = labels_url(project, label["id"])

    recoloured = await client.patch(url, json={"color": "#abcdef"}, headers=headers)
    renamed = await client.patch(url, json={"name": " new "}, headers=headers)
    nulled = await client.patch(url, json={"name": None}, headers=headers)

    assert recoloured.json() == {**label, "color": "#abcdef"}
    assert renamed.json() == {**label, "name": "new", "color": "#abcdef"}
    assert ["body", "name"] in error_locs(nulled)


async def test_delete_removes_the_label(client: AsyncClient, make: DomainFactory) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    label = await new_label(client, headers, project, "gone")

    response = await client.delete(labels_url(project, label["id"]), headers=headers)
    again = await client.delete(labels_url(project, label["id"]), headers=headers)

    assert response.status_code == 204, response.text
    assert_error(again, 404, "not_found")
    assert (await client.get(labels_url(project), headers=headers)).json() == []


async def test_label_writes_record_activity_events(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    label = await new_label(client, headers, project, "first", "#000000")
    url = labels_url(project, label["id"])
    await client.patch(url, json={"name": "second"}, headers=headers)
    await client.patch(url, json={"color": "#000000"}, headers=headers)  # changes nothing
    await client.delete(url, headers=headers)

    recorded = await events(sessionmaker, project.id, "label.")

    assert [(e.type, e.actor_id, e.task_id) for e in recorded] == [
        ("label.created", owner.id, None),
        ("label.updated", owner.id, None),
        ("label.deleted", owner.id, None),
    ]
    assert recorded[0].changes == {"label_id": label["id"], "name": "first", "color": "#000000"}
    assert recorded[1].changes == {"label_id": label["id"], "name": ["first", "second"]}
    assert recorded[2].changes == {"label_id": label["id"], "name": "second", "color": "#000000"}


async def test_a_refused_label_write_records_no_event(
    client: AsyncClient, make: DomainFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await make()
    project = await make.project(owner)
    await new_label(client, make.headers(owner), project, "taken")

    duplicate = await client.post(
        labels_url(project), json={"name": "Taken", "color": "#000000"}, headers=make.headers(owner)
    )

    assert_error(duplicate, 409, "conflict")
    assert [e.type for e in await events(sessionmaker, project.id, "label.")] == ["label.created"]


# --- who may ----------------------------------------------------------------------------------


async def test_a_viewer_reads_labels_but_may_not_write_them(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, viewer = await make(), await make()
    project = await make.project(owner)
    await make.member(project, viewer, "viewer")
    label = await new_label(client, make.headers(owner), project, "mine")
    headers = make.headers(viewer)

    created = await client.post(
        labels_url(project), json={"name": "x", "color": "#000000"}, headers=headers
    )
    changed = await client.patch(
        labels_url(project, label["id"]), json={"name": "y"}, headers=headers
    )
    deleted = await client.delete(labels_url(project, label["id"]), headers=headers)
    read = await client.get(labels_url(project), headers=headers)

    for response in (created, changed, deleted):
        assert_error(response, 403, "forbidden")
    assert [item["name"] for item in read.json()] == ["mine"]


async def test_another_users_project_answers_404_on_every_label_route(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, stranger = await make(), await make()
    project = await make.project(owner)
    label = await new_label(client, make.headers(owner), project, "private")
    headers = make.headers(stranger)
    url = labels_url(project, label["id"])

    responses = [
        await client.get(labels_url(project), headers=headers),
        await client.get(url, headers=headers),
        await client.post(
            labels_url(project), json={"name": "x", "color": "#000000"}, headers=headers
        ),
        await client.patch(url, json={"name": "stolen"}, headers=headers),
        await client.delete(url, headers=headers),
        await client.get(labels_url(MISSING_ID), headers=headers),
    ]

    for response in responses:
        assert_error(response, 404, "not_found")


async def test_a_label_of_another_project_answers_404_through_this_one(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, other_owner = await make(), await make()
    project, foreign = await make.project(owner), await make.project(other_owner)
    theirs = await new_label(client, make.headers(other_owner), foreign, "theirs")
    mine = await make.project(owner)
    await new_label(client, make.headers(owner), mine, "mine")
    headers = make.headers(owner)

    changed = await client.patch(
        labels_url(project, theirs["id"]), json={"name": "x"}, headers=headers
    )
    deleted = await client.delete(labels_url(project, theirs["id"]), headers=headers)
    read = await client.get(labels_url(project, theirs["id"]), headers=headers)

    assert_error(read, 404, "not_found")
    assert_error(changed, 404, "not_found")
    assert_error(deleted, 404, "not_found")


async def test_an_administrator_manages_labels_of_any_project(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, admin = await make(), await make.admin()
    project = await make.project(owner)

    label = await new_label(client, make.headers(admin), project, "by admin")

    assert label["project_id"] == project.id


async def test_labels_of_an_archived_project_are_read_only(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    label = await new_label(client, headers, project, "frozen")
    archive = await client.patch(
        f"/api/v1/projects/{project.id}", json={"is_archived": True}, headers=headers
    )
    assert archive.status_code == 200, archive.text
    url = labels_url(project, label["id"])

    created = await client.post(
        labels_url(project), json={"name": "x", "color": "#000000"}, headers=headers
    )
    changed = await client.patch(url, json={"name": "y"}, headers=headers)
    deleted = await client.delete(url, headers=headers)
    read = await client.get(labels_url(project), headers=headers)

    for response in (created, changed, deleted):
        assert_error(response, 409, "project_archived")
    assert read.status_code == 200


async def test_label_routes_need_credentials_and_the_project_scopes(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)
    label = await new_label(client, make.headers(owner), project, "scoped")
    url = labels_url(project, label["id"])
    tasks_only = await api_key_headers(client, make.headers(owner), "tasks:read", "tasks:write")
    reader = await api_key_headers(client, make.headers(owner), "projects:read")

    for response in (
        await client.get(labels_url(project)),
        await client.get(url),
        await client.post(labels_url(project), json={"name": "x", "color": "#000000"}),
        await client.patch(url, json={"name": "y"}),
        await client.delete(url),
    ):
        assert_error(response, 401, "not_authenticated")
    assert_error(
        await client.get(labels_url(project), headers=tasks_only), 403, "insufficient_scope"
    )
    assert (await client.get(labels_url(project), headers=reader)).status_code == 200
    refused = await client.post(
        labels_url(project), json={"name": "x", "color": "#000000"}, headers=reader
    )
    assert_error(refused, 403, "insufficient_scope")


async def test_label_ids_in_the_path_are_validated(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner = await make()
    project = await make.project(owner)

    response = await client.patch(
        labels_url(project, 0), json={"name": "x"}, headers=make.headers(owner)
    )

    assert ["path", "label_id"] in error_locs(response)
