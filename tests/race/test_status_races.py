"""Races on a project's statuses: reorders, deletes, moves of tasks on the board, and changes
naming one version of a status."""

from __future__ import annotations

from typing import Any

from tests.race.conftest import RaceServer
from tests.support.race import assert_one_winner, assert_statuses, delete, patch, post, race

N = 12


async def _statuses(
    server: RaceServer, project_id: int, headers: dict[str, str]
) -> list[dict[str, Any]]:
    response = await server.get(f"/api/v1/projects/{project_id}/statuses", headers)
    assert response.status_code == 200, response.text
    return list(response.json())


async def test_concurrent_reorders_keep_positions_a_permutation(race_server: RaceServer) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    await race(
        race_server.url,
        [
            post(
                f"/api/v1/projects/{project.id}/statuses",
                headers,
                {"name": f"S{i}", "category": "todo"},
            )
            for i in range(3)
        ],
    )
    statuses = await _statuses(race_server, project.id, headers)
    answers = await race(
        race_server.url,
        [
            patch(
                f"/api/v1/projects/{project.id}/statuses/{statuses[i % len(statuses)]['id']}",
                headers,
                {"position": (i * 7) % len(statuses)},
            )
            for i in range(N)
        ],
    )

    assert_statuses(answers, {200})
    final = await _statuses(race_server, project.id, headers)
    assert sorted(s["position"] for s in final) == list(range(len(statuses)))
    assert {s["id"] for s in final} == {s["id"] for s in statuses}


async def test_concurrent_deletes_keep_a_done_and_an_open_status_and_every_task(
    race_server: RaceServer,
) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    statuses = await _statuses(race_server, project.id, headers)
    tasks = [await make.task(project) for _ in range(3)]
    done = next(s for s in statuses if s["category"] == "done")
    todo = next(s for s in statuses if s["category"] == "todo")
    doing = next(s for s in statuses if s["category"] == "in_progress")
    # Each deletes one status, sending its tasks to another one that another request deletes.
    requests = [
        delete(
            f"/api/v1/projects/{project.id}/statuses/{todo['id']}?move_to={doing['id']}", headers
        ),
        delete(
            f"/api/v1/projects/{project.id}/statuses/{doing['id']}?move_to={todo['id']}", headers
        ),
        delete(
            f"/api/v1/projects/{project.id}/statuses/{done['id']}?move_to={todo['id']}", headers
        ),
        delete(
            f"/api/v1/projects/{project.id}/statuses/{todo['id']}?move_to={done['id']}", headers
        ),
    ]
    answers = await race(race_server.url, requests, repeat=2)

    assert_statuses(answers, {204, 404, 409, 422})
    final = await _statuses(race_server, project.id, headers)
    categories = [s["category"] == "done" for s in final]
    assert any(categories) and not all(categories)
    assert sorted(s["position"] for s in final) == list(range(len(final)))
    listed = await race_server.get(
        "/api/v1/tasks", headers, params={"project_id": project.id, "limit": 100}
    )
    assert {t["id"] for t in listed.json()} == {t.id for t in tasks}
    assert {t["status"]["id"] for t in listed.json()} <= {s["id"] for s in final}


async def test_concurrent_moves_into_one_gap_keep_every_task_on_the_board(
    race_server: RaceServer,
) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    first = await make.task(project)
    movers = [await make.task(project) for _ in range(N)]
    last = await make.task(project)
    answers = await race(
        race_server.url,
        [post(f"/api/v1/tasks/{t.id}/move", headers, {"after_id": first.id}) for t in movers],
    )

    assert_statuses(answers, {200})
    order = await race_server.get(
        "/api/v1/tasks",
        headers,
        params={"project_id": project.id, "sort": "position", "limit": 100},
    )
    ids = [t["id"] for t in order.json()]
    assert ids[0] == first.id and ids[-1] == last.id
    assert sorted(ids[1:-1]) == sorted(t.id for t in movers)
    # Whatever keys the racers chose, a move between any two of them still works.
    middle = await race(
        race_server.url, [post(f"/api/v1/tasks/{last.id}/move", headers, {"after_id": ids[3]})]
    )
    assert_statuses(middle, {200})
    again = await race_server.get(
        "/api/v1/tasks",
        headers,
        params={"project_id": project.id, "sort": "position", "limit": 100},
    )
    assert [t["id"] for t in again.json()][4] == last.id


async def test_creates_racing_a_status_delete_leave_no_task_behind(
    race_server: RaceServer,
) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    statuses = await _statuses(race_server, project.id, headers)
    todo, doing = statuses[0], statuses[1]
    await make.task(project)
    creates = [
        post("/api/v1/tasks", headers, {"title": f"t{i}", "project_id": project.id})
        for i in range(N)
    ]
    deleting = delete(
        f"/api/v1/projects/{project.id}/statuses/{todo['id']}?move_to={doing['id']}", headers
    )
    answers = await race(race_server.url, [*creates[: N // 2], deleting, *creates[N // 2 :]])

    # A create that read the status just before it went answers 409 and wrote nothing.
    assert_statuses(answers, {201, 204, 409})
    assert answers[N // 2].status_code == 204
    listed = await race_server.get(
        "/api/v1/tasks", headers, params={"project_id": project.id, "limit": 100}
    )
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert created <= {t["id"] for t in listed.json()}
    assert {t["status"]["id"] for t in listed.json()} <= {doing["id"], statuses[2]["id"]}


async def test_patches_naming_one_version_of_a_status_let_exactly_one_through(
    race_server: RaceServer,
) -> None:
    make = race_server.make
    owner = await make()
    project = await make.project(owner)
    headers = make.headers(owner)
    todo = (await _statuses(race_server, project.id, headers))[0]
    url = f"/api/v1/projects/{project.id}/statuses/{todo['id']}"
    read = {**headers, "If-Match": '"1"'}

    answers = await race(
        race_server.url,
        [patch(url, read, {"name": f"Open {i}", "position": i % 3}) for i in range(N)],
    )

    # An empty change answers the status as it is, with its ETag (the list carries none).
    (final,) = await race(race_server.url, [patch(url, headers, {})])
    assert_one_winner(answers, final, "name")
