"""No input makes any route answer 5xx, and every error keeps the envelope.

Each operation of the OpenAPI document is driven with edge values (see strategies.py) as a
real user owning a project and a task, as an administrator, and anonymously, on PostgreSQL
with Redis and on SQLite.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from httpx import AsyncClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.users.models import User
from tests.factories import DomainFactory
from tests.property.requests import (
    DrawnRequest,
    Operation,
    app_routes,
    operations,
    requests_for,
)
from tests.property.strategies import SchemaValues, World

pytestmark = pytest.mark.slow

NUL = "\x00"
README = Path(__file__).resolve().parents[2] / "README.md"


def documented_error_codes() -> set[str]:
    """The stable codes the README lists."""
    text = README.read_text()
    listed = text.split("`error` is a stable code:", 1)[1].split(". A 422", 1)[0]
    return set(re.findall(r"`([a-z_]+)`", listed))


def test_the_layer_drives_every_route_of_the_app() -> None:
    """Routes come from the app, so a new route is driven without a change here."""
    app = app_routes()
    driven = {(op.method, op.path) for op in operations(app)}
    routes = {
        (method, route.path_format)
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        for method in route.methods or ()
    }
    assert routes - driven == set()
    assert ("GET", "/api/v1/tasks") in driven
    assert ("GET", "/metrics") in driven


@settings(max_examples=5)
@given(data=st.data())
def test_every_operation_has_a_strategy(operation: Operation, data: st.DataObject) -> None:
    values = SchemaValues(app_routes().openapi()["components"]["schemas"], World((1,), ()))
    drawn = data.draw(requests_for(operation, values))
    assert drawn.method == operation.method


def check_answer(request: DrawnRequest, status: int, body: Any, codes: set[str]) -> None:
    assert status < 500, f"{status} for {request!r}: {body}"
    if status < 400:
        return
    assert isinstance(body, dict), body
    assert set(body) == {"detail", "error", "request_id"}, body
    assert body["error"] in codes, f"undocumented error code {body['error']!r}"
    if status == 422:
        assert isinstance(body["detail"], list) and body["detail"], body
        for item in body["detail"]:
            assert {"loc", "msg", "type"} <= set(item), item
    else:
        assert isinstance(body["detail"], str), body


async def _restore(
    sessionmaker: async_sessionmaker[AsyncSession], user_ids: tuple[int, ...]
) -> None:
    """Undo what a request may have done to the callers (a deactivation, a lockout), so the
    next one is authenticated again."""
    async with sessionmaker() as session:
        await session.execute(
            update(User)
            .where(User.id.in_(user_ids))
            .values(is_active=True, locked_until=None, failed_login_count=0)
        )
        await session.commit()


@given(data=st.data())
async def test_no_input_gets_a_server_error(
    client: AsyncClient,
    make: DomainFactory,
    world: dict[str, Any],
    operation: Operation,
    data: st.DataObject,
) -> None:
    values = SchemaValues(app_routes().openapi()["components"]["schemas"], world["world"])
    codes = documented_error_codes()
    # Everything is drawn before anything is sent, so what is drawn never depends on answers
    # (which earlier examples' writes can change) and a failure replays the same requests.
    requests = [
        (
            data.draw(requests_for(operation, values), label="request"),
            data.draw(st.sampled_from(["owner", "owner", "admin", None]), label="caller"),
        )
        for _ in range(operation.requests_per_example)
    ]
    for request, caller in requests:
        headers = dict(request.headers)
        if caller is not None:
            headers.update(make.headers(world["users"][caller]))
        response = await client.request(
            request.method, request.url, headers=headers, content=request.content
        )
        is_json = response.headers.get("content-type", "").startswith("application/json")
        body = response.json() if is_json and response.content else response.text
        check_answer(request, response.status_code, body, codes)
        if operation.documented and NUL in request.sent_text():
            assert response.status_code >= 400, f"text with NUL accepted: {request!r}"
        await _restore(make.sessionmaker, world["user_ids"])
