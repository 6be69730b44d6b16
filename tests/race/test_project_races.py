"""Races on projects, their members, and creates with an Idempotency-Key."""

from __future__ import annotations

from tests.factories import unique_email
from tests.race.conftest import RaceServer
from tests.support.race import (
    assert_one_winner,
    assert_statuses,
    delete,
    patch,
    post,
    race,
    version,
)

N = 12


async def test_the_same_member_added_in_parallel_is_added_once(race_server: RaceServer) -> None:
    make = race_server.make
    owner, user = await make(), await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    body = {"email": user.email, "role": "editor"}
    answers = await race(
        race_server.url, [post(f"/api/v1/projects/{project.id}/members", headers, body)] * N
    )

    counted = assert_statuses(answers, {201, 409})
    assert counted[201] == 1
    assert {a.json()["error"] for a in answers if a.status_code == 409} == {"already_member"}
    members = await race_server.get(f"/api/v1/projects/{project.id}/members", headers)
    assert [member["user"]["id"] for member in members.json()] == [owner.id, user.id]


async def test_members_added_while_the_project_is_deleted(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    users = [await make() for _ in range(N)]
    project = await make.project(owner)
    headers = make.headers(owner)
    adds = [
        post(
            f"/api/v1/projects/{project.id}/members", headers, {"email": u.email, "role": "viewer"}
        )
        for u in users
    ]
    answers = await race(
        race_server.url, [*adds[:6], delete(f"/api/v1/projects/{project.id}", headers), *adds[6:]]
    )

    assert answers[6].status_code == 204, answers[6].text
    assert_statuses(answers[:6] + answers[7:], {201, 404})
    assert (await race_server.get(f"/api/v1/projects/{project.id}", headers)).status_code == 404


async def test_parallel_removals_of_one_member_remove_it_once(race_server: RaceServer) -> None:
    make = race_server.make
    owner, user = await make(), await make()
    project = await make.project(owner)
    await make.member(project, user)
    headers = make.headers(owner)
    answers = await race(
        race_server.url, [delete(f"/api/v1/projects/{project.id}/members/{user.id}", headers)] * N
    )

    counted = assert_statuses(answers, {204, 404})
    assert counted[204] == 1
    members = await race_server.get(f"/api/v1/projects/{project.id}/members", headers)
    assert [member["user"]["id"] for member in members.json()] == [owner.id]


async def test_project_patches_without_if_match_all_land(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    answers = await race(
        race_server.url,
        [patch(f"/api/v1/projects/{project.id}", headers, {"name": f"name {i}"}) for i in range(N)],
    )

    assert_statuses(answers, {200})
    assert sorted(version(answer) for answer in answers) == list(range(2, N + 2))
    final = await race_server.get(f"/api/v1/projects/{project.id}", headers)
    assert final.json()["name"] == max(answers, key=version).json()["name"]


async def test_project_patches_with_one_if_match_have_one_winner(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = {**make.headers(owner), "If-Match": '"1"'}
    answers = await race(
        race_server.url,
        [
            patch(
                f"/api/v1/projects/{project.id}",
                headers,
                {"name": f"name {i}", "is_archived": True},
            )
            for i in range(N)
        ],
    )

    final = await race_server.get(f"/api/v1/projects/{project.id}", make.headers(owner))
    assert_one_winner(answers, final, "name")


async def test_parallel_deletes_of_one_project_delete_it_once(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    await make.tasks(project, 3)
    headers = make.headers(owner)
    answers = await race(race_server.url, [delete(f"/api/v1/projects/{project.id}", headers)] * N)

    counted = assert_statuses(answers, {204, 404})
    assert counted[204] == 1


async def test_one_idempotency_key_in_parallel_creates_one_project(
    race_server: RaceServer,
) -> None:
    make = race_server.make
    owner = await make()
    headers = {**make.headers(owner), "Idempotency-Key": "race-project"}
    answers = await race(
        race_server.url, [post("/api/v1/projects", headers, {"name": "Once only"})] * N
    )

    counted = assert_statuses(answers, {201, 409})
    created = [answer.json() for answer in answers if answer.status_code == 201]
    assert created and all(body == created[0] for body in created)
    assert counted[409] == sum(
        1
        for a in answers
        if a.status_code == 409 and a.json()["error"] == "idempotency_in_progress"
    )
    listed = await race_server.get("/api/v1/projects", make.headers(owner))
    assert [project["id"] for project in listed.json()] == [created[0]["id"]]


async def test_one_idempotency_key_in_parallel_creates_one_task(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = {**make.headers(owner), "Idempotency-Key": "race-task"}
    body = {"title": "Once only", "project_id": project.id}
    answers = await race(race_server.url, [post("/api/v1/tasks", headers, body)] * N)

    assert_statuses(answers, {201, 409})
    created = [answer.json() for answer in answers if answer.status_code == 201]
    assert created and all(body == created[0] for body in created)
    listed = await race_server.get(
        "/api/v1/tasks", make.headers(owner), params={"project_id": project.id}
    )
    assert [task["id"] for task in listed.json()] == [created[0]["id"]]


async def test_parallel_project_creates_all_land(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make(email=unique_email("creator"))
    headers = make.headers(owner)
    answers = await race(
        race_server.url,
        [post("/api/v1/projects", headers, {"name": f"project {i}"}) for i in range(N)],
    )

    assert_statuses(answers, {201})
    listed = await race_server.get("/api/v1/projects", headers, params={"limit": 100})
    assert sorted(p["id"] for p in listed.json()) == sorted(a.json()["id"] for a in answers)
