"""Races and the activity log: concurrent changes of one task each record their event, and
the events chain (each one's old value is the previous one's new), whatever path a change
took (the quick one, or again under the lock after losing a race)."""

from __future__ import annotations

from tests.race.conftest import RaceServer
from tests.support.race import assert_statuses, patch, race, version

N = 24


async def test_racing_changes_of_one_task_record_one_chained_event_each(
    race_server: RaceServer,
) -> None:
    make = race_server.make
    owner = await make()
    task = await make.task(await make.project(owner), title="title start")
    headers = make.headers(owner)

    answers = await race(
        race_server.url,
        [patch(f"/api/v1/tasks/{task.id}", headers, {"title": f"title {i}"}) for i in range(N)],
    )

    assert_statuses(answers, {200})
    history = await race_server.get(
        f"/api/v1/tasks/{task.id}/activity", headers, params={"limit": 100}
    )
    events = list(reversed(history.json()))  # oldest first
    assert [event["type"] for event in events] == ["task.updated"] * N
    titles = [event["changes"]["title"] for event in events]
    # In the order the changes landed (their versions), each starts where the last ended.
    landed = sorted(answers, key=version)
    assert [new for _, new in titles] == [answer.json()["title"] for answer in landed]
    assert [old for old, _ in titles] == ["title start", *(new for _, new in titles[:-1])]
    assert {event["request_id"] for event in events} == {
        answer.headers["X-Request-ID"] for answer in answers
    }
