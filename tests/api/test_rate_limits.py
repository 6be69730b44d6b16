"""Rate limits: per client address on the login, register and reset routes, per principal
everywhere else; moving windows shared through Redis, in memory without it.

Every test runs twice, with the windows in process memory and in Redis: both must behave
the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient, Response

from taskflow.config import Settings
from taskflow.core.metrics import RATE_LIMITED
from taskflow.main import create_app
from tests.factories import DomainFactory, unique_email
from tests.support.api import login

WRONG_PASSWORD = "wrong-pass-1"


@pytest.fixture(params=["memory", "redis"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "memory" or settings.redis_url is not None:
        return settings
    return settings.model_copy(update={"redis_url": request.getfixturevalue("redis_url")})


def _assert_refused(answer: Response, *, limit: int) -> None:
    assert answer.status_code == 429
    body = answer.json()
    assert body["error"] == "rate_limited"
    assert body["request_id"] == answer.headers["X-Request-ID"]
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.headers["X-RateLimit-Limit"] == str(limit)
    assert answer.headers["X-RateLimit-Remaining"] == "0"
    assert int(answer.headers["X-RateLimit-Reset"]) > int(datetime.now(UTC).timestamp()) - 1


@pytest.mark.settings(rate_limit_login="3/minute")
async def test_logins_past_the_limit_get_429_with_retry_after(client: AsyncClient) -> None:
    answers = [await login(client, unique_email(), WRONG_PASSWORD) for _ in range(4)]

    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert all(a.headers["X-RateLimit-Limit"] == "3" for a in answers)
    _assert_refused(answers[3], limit=3)


@pytest.mark.settings(rate_limit_login="2/minute")
async def test_the_oauth2_form_login_shares_the_login_limit(client: AsyncClient) -> None:
    await login(client, unique_email(), WRONG_PASSWORD)
    await client.post("/api/v1/auth/token", data={"username": unique_email(), "password": "x"})
    refused = await client.post(
        "/api/v1/auth/token", data={"username": unique_email(), "password": "x"}
    )
    _assert_refused(refused, limit=2)


@pytest.mark.settings(rate_limit_login="2/minute")
async def test_the_login_window_moves_with_time(client: AsyncClient) -> None:
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        await login(client, unique_email(), WRONG_PASSWORD)
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        await login(client, unique_email(), WRONG_PASSWORD)
        assert (await login(client, unique_email(), WRONG_PASSWORD)).status_code == 429
    # The first attempt has left the window; the second has not.
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert (await login(client, unique_email(), WRONG_PASSWORD)).status_code == 401
        assert (await login(client, unique_email(), WRONG_PASSWORD)).status_code == 429


@pytest.mark.settings(rate_limit_login="2/minute")
async def test_a_refusal_says_when_the_oldest_counted_request_leaves_the_window(
    client: AsyncClient,
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        first = await login(client, unique_email(), WRONG_PASSWORD)
    with time_machine.travel(start + timedelta(seconds=20), tick=False):
        second = await login(client, unique_email(), WRONG_PASSWORD)
    with time_machine.travel(start + timedelta(seconds=35), tick=False):
        refused = await login(client, unique_email(), WRONG_PASSWORD)
    reset_at = int((start + timedelta(seconds=60)).timestamp())
    assert [first.headers["X-RateLimit-Remaining"], second.headers["X-RateLimit-Remaining"]] == [
        "1",
        "0",
    ]
    assert first.headers["X-RateLimit-Reset"] == second.headers["X-RateLimit-Reset"]
    assert int(first.headers["X-RateLimit-Reset"]) == reset_at
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "25"
    assert int(refused.headers["X-RateLimit-Reset"]) == reset_at


@pytest.mark.settings(rate_limit_default="3/minute", cache_ttl_seconds=60)
async def test_each_read_counts_once_whether_its_caller_is_cached_or_not(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    await make.project(user)
    headers = make.headers(user)
    answers = [
        await client.get("/api/v1/users/me", headers=headers),  # caller not cached yet
        await client.get("/api/v1/projects", headers=headers),  # caller cached, answer not
        await client.get("/api/v1/projects", headers=headers),  # both cached
        await client.get("/api/v1/projects", headers=headers),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    _assert_refused(answers[3], limit=3)


@pytest.mark.settings(rate_limit_default="3/minute")
async def test_a_route_that_needs_the_caller_twice_counts_it_once(
    client: AsyncClient, make: DomainFactory
) -> None:
    # Each of these routes asks for the caller in its authorization and again in the
    # dependency that loads the project or the task.
    user = await make()
    project = await make.project(user)
    task = await make.task(project)
    headers = make.headers(user)
    answers = [
        await client.get(f"/api/v1/projects/{project.id}/members", headers=headers),
        await client.patch(f"/api/v1/tasks/{task.id}", json={"priority": 2}, headers=headers),
        await client.patch(f"/api/v1/projects/{project.id}", json={"name": "B"}, headers=headers),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]


@pytest.mark.settings(rate_limit_register="2/minute")
async def test_registrations_are_limited_per_address(client: AsyncClient) -> None:
    answers = [
        await client.post(
            "/api/v1/auth/register",
            json={"email": unique_email(), "password": "secret123", "full_name": "R"},
        )
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 201, 429]
    _assert_refused(answers[2], limit=2)


@pytest.mark.settings(rate_limit_password_reset="1/hour")
async def test_password_reset_requests_are_limited_per_address(client: AsyncClient) -> None:
    first = await client.post("/api/v1/auth/password-reset", json={"email": unique_email()})
    second = await client.post("/api/v1/auth/password-reset", json={"email": unique_email()})
    assert first.status_code == 202
    _assert_refused(second, limit=1)


@pytest.mark.settings(rate_limit_login="1/minute", trusted_proxies=["127.0.0.1"])
async def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_limit(
    client: AsyncClient,
) -> None:
    first = await login(
        client, unique_email(), WRONG_PASSWORD, headers={"X-Forwarded-For": "203.0.113.7"}
    )
    other = await login(
        client, unique_email(), WRONG_PASSWORD, headers={"X-Forwarded-For": "203.0.113.8"}
    )
    again = await login(
        client, unique_email(), WRONG_PASSWORD, headers={"X-Forwarded-For": "203.0.113.7"}
    )
    assert [first.status_code, other.status_code, again.status_code] == [401, 401, 429]


@pytest.mark.settings(rate_limit_login="1/minute")
async def test_forwarded_addresses_from_an_untrusted_peer_are_ignored(client: AsyncClient) -> None:
    await login(client, unique_email(), WRONG_PASSWORD, headers={"X-Forwarded-For": "203.0.113.7"})
    spoofed = await login(
        client, unique_email(), WRONG_PASSWORD, headers={"X-Forwarded-For": "203.0.113.99"}
    )
    assert spoofed.status_code == 429


@pytest.mark.settings(rate_limit_default="3/minute")
async def test_each_principal_has_its_own_limit_on_other_routes(
    client: AsyncClient, make: DomainFactory
) -> None:
    busy, calm = await make(), await make()
    answers = [await client.get("/api/v1/users/me", headers=make.headers(busy)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-RateLimit-Remaining"] == "2"
    _assert_refused(answers[3], limit=3)
    assert (await client.get("/api/v1/users/me", headers=make.headers(calm))).status_code == 200


@pytest.mark.settings(rate_limit_default="2/minute")
async def test_an_api_key_is_a_principal_of_its_own(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "k", "scopes": ["users:read"]},
        headers=make.headers(user),
    )
    await client.get("/api/v1/users/me", headers=make.headers(user))  # the session's 2nd call
    with_key = await client.get("/api/v1/users/me", headers={"X-API-Key": created.json()["key"]})
    assert with_key.status_code == 200
    assert with_key.headers["X-RateLimit-Remaining"] == "1"


@pytest.mark.settings(rate_limit_default="3/minute")
async def test_refusals_are_counted_in_the_metrics(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    before = RATE_LIMITED.labels(limit="default")._value.get()
    for _ in range(5):
        await client.get("/api/v1/users/me", headers=make.headers(user))
    assert RATE_LIMITED.labels(limit="default")._value.get() == before + 2


@pytest.mark.settings(rate_limit_default="off", rate_limit_login="0")
async def test_a_limit_switched_off_sends_no_headers_and_refuses_nothing(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    answers = [await client.get("/api/v1/users/me", headers=make.headers(user)) for _ in range(5)]
    logins = [await login(client, unique_email(), WRONG_PASSWORD) for _ in range(12)]
    assert {a.status_code for a in answers} == {200}
    assert {a.status_code for a in logins} == {401}
    assert "X-RateLimit-Limit" not in answers[0].headers


# --- shared through Redis -----------------------------------------------------------------


@asynccontextmanager
async def instance(settings: Settings) -> AsyncIterator[AsyncClient]:
    app = create_app(settings)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client,
    ):
        yield client


@pytest.mark.settings(redis_url="from-fixture", rate_limit_login="3/minute")
async def test_with_redis_two_instances_share_one_limit(settings: Settings) -> None:
    async with instance(settings) as first, instance(settings) as second:
        answers = [
            await login(first, unique_email(), WRONG_PASSWORD),
            await login(second, unique_email(), WRONG_PASSWORD),
            await login(first, unique_email(), WRONG_PASSWORD),
            await login(second, unique_email(), WRONG_PASSWORD),
        ]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]


@pytest.mark.settings(redis_url="from-fixture", rate_limit_default="5/minute")
async def test_cached_answers_carry_the_rate_limit_headers_too(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    await make.project(user)
    first = await client.get("/api/v1/projects", headers=make.headers(user))
    cached = await client.get("/api/v1/projects", headers=make.headers(user))
    assert cached.json() == first.json()
    assert first.headers["X-RateLimit-Remaining"] == "4"
    assert cached.headers["X-RateLimit-Remaining"] == "3"


async def test_without_redis_limits_still_hold_per_process(settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={"redis_url": "redis://127.0.0.1:1/0", "rate_limit_login": "2/minute"}
    )
    async with instance(unreachable) as client:
        answers = [await login(client, unique_email(), WRONG_PASSWORD) for _ in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 429]
