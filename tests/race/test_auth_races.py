"""Races on one-time credentials: a refresh token and a password reset token."""

from __future__ import annotations

import httpx

from tests.factories import DEFAULT_PASSWORD
from tests.race.conftest import RaceServer
from tests.support.race import assert_statuses, post, race

N = 12


async def _login(race_server: RaceServer, email: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=race_server.url, timeout=10) as client:
        return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_one_refresh_token_spent_in_parallel_once(race_server: RaceServer) -> None:
    user = await race_server.make()
    tokens = (await _login(race_server, user.email, DEFAULT_PASSWORD)).json()
    body = {"refresh_token": tokens["refresh_token"]}
    answers = await race(race_server.url, [post("/api/v1/auth/refresh", {}, body)] * N)

    counted = assert_statuses(answers, {200, 401})
    assert counted[200] == 1
    assert {a.json()["error"] for a in answers if a.status_code == 401} == {"token_reuse_detected"}
    # The reuse revoked the family, the winner's new token with it.
    winner = next(answer for answer in answers if answer.status_code == 200).json()
    async with httpx.AsyncClient(base_url=race_server.url, timeout=10) as client:
        again = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]}
        )
    assert again.status_code == 401


async def test_one_reset_token_confirmed_in_parallel_once(race_server: RaceServer) -> None:
    user = await race_server.make()
    async with httpx.AsyncClient(base_url=race_server.url, timeout=10) as client:
        asked = await client.post("/api/v1/auth/password-reset", json={"email": user.email})
    assert asked.status_code == 202
    token = (await race_server.mailbox.wait_for(user.email)).link_token("reset-password")
    answers = await race(
        race_server.url,
        [
            post(
                "/api/v1/auth/password-reset/confirm",
                {},
                {"token": token, "new_password": f"new-pass-{i}"},
            )
            for i in range(N)
        ],
    )

    counted = assert_statuses(answers, {204, 400})
    assert counted[204] == 1
    chosen = next(i for i, answer in enumerate(answers) if answer.status_code == 204)
    assert (await _login(race_server, user.email, f"new-pass-{chosen}")).status_code == 200
    assert (await _login(race_server, user.email, DEFAULT_PASSWORD)).status_code == 401
