"""Concurrent real HTTP requests released together, and the invariants every race keeps."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AsyncExitStack
from typing import Any

import httpx

# One request of a race: given its own client (its own connection), send one request.
Send = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
RACE_TIMEOUT_SECONDS = 30


async def race(base_url: str, senders: Sequence[Send], *, repeat: int = 1) -> list[httpx.Response]:
    """Send every request at once, each on its own warmed connection, and return the answers
    in the order of `senders`. No answer may be a server error (5xx).

    With `repeat`, each connection sends its request that many times in a row (the answers
    of one sender follow each other), which keeps the contention up for longer.
    """
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, timeout=RACE_TIMEOUT_SECONDS)
            )
            for _ in senders
        ]
        # Open every connection first, so the requests leave together rather than one
        # connection set-up apart.
        await asyncio.gather(*(client.get("/health/live") for client in clients))
        start = asyncio.Event()

        async def released(send: Send, client: httpx.AsyncClient) -> list[httpx.Response]:
            await start.wait()
            return [await send(client) for _ in range(repeat)]

        pending = [
            asyncio.ensure_future(released(send, client))
            for send, client in zip(senders, clients, strict=True)
        ]
        await asyncio.sleep(0)  # every request is now waiting on `start`
        start.set()
        responses = [answer for answers in await asyncio.gather(*pending) for answer in answers]
    assert_no_server_error(responses)
    return responses


def assert_no_server_error(responses: Iterable[httpx.Response]) -> None:
    failed = [
        f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}"
        for r in responses
        if r.status_code >= 500
    ]
    assert not failed, "server errors in a race:\n" + "\n".join(failed)


def statuses(responses: Iterable[httpx.Response]) -> Counter[int]:
    """How many answers had each status code."""
    return Counter(response.status_code for response in responses)


def assert_statuses(responses: Iterable[httpx.Response], allowed: set[int]) -> Counter[int]:
    """Every answer has one of the allowed statuses; returns the count of each."""
    counted = statuses(responses)
    unexpected = [
        f"{r.status_code}: {r.text[:200]}" for r in responses if r.status_code not in allowed
    ]
    assert not unexpected, f"statuses {dict(counted)}, outside {sorted(allowed)}: {unexpected[:3]}"
    return counted


def post(path: str, headers: dict[str, str], body: dict[str, Any]) -> Send:
    async def send(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(path, headers=headers, json=body)

    return send


def patch(path: str, headers: dict[str, str], body: dict[str, Any]) -> Send:
    async def send(client: httpx.AsyncClient) -> httpx.Response:
        return await client.patch(path, headers=headers, json=body)

    return send


def delete(path: str, headers: dict[str, str]) -> Send:
    async def send(client: httpx.AsyncClient) -> httpx.Response:
        return await client.delete(path, headers=headers)

    return send


def version(answer: httpx.Response) -> int:
    """The version an answer's ETag names."""
    return int(answer.headers["ETag"].strip('"'))


def assert_one_winner(answers: Sequence[httpx.Response], final: httpx.Response, field: str) -> None:
    """Racers naming one version (If-Match): exactly one changed it, the rest got 412, and the
    resource is the winner's change, one version on."""
    counted = assert_statuses(answers, {200, 412})
    assert counted[200] == 1
    winner = next(answer for answer in answers if answer.status_code == 200)
    assert (version(final), final.json()[field]) == (2, winner.json()[field])
