"""The request's unit of work (UnitOfWorkRoute): one session, made only when asked for,
committed after the route answers, rolled back when it fails, kept when the failure is an
outcome (keeps_changes), and never left open by a route that cannot end it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import event, text

from taskflow.config import Settings
from taskflow.core.deps import SessionDep, UnitOfWorkRoute
from taskflow.core.errors import AppError
from taskflow.main import create_app
from taskflow.users.models import User

RENAMED = "renamed by the route"


class Refused(AppError):
    status_code = 409
    error = "refused"


def _routes(router: APIRouter) -> None:
    async def rename(session: SessionDep, user_id: int) -> None:
        await session.execute(
            text("UPDATE users SET full_name = :name WHERE id = :id"),
            {"name": RENAMED, "id": user_id},
        )

    @router.post("/rename/{user_id}")
    async def rename_and_answer(session: SessionDep, user_id: int) -> dict[str, bool]:
        await rename(session, user_id)
        return {"renamed": True}

    @router.post("/rename/{user_id}/refuse")
    async def rename_then_refuse(session: SessionDep, user_id: int) -> None:
        await rename(session, user_id)
        raise Refused()

    @router.post("/rename/{user_id}/refuse-keeping")
    async def rename_then_refuse_keeping(session: SessionDep, user_id: int) -> None:
        await rename(session, user_id)
        raise Refused(keeps_changes=True)

    @router.post("/rename/{user_id}/crash")
    async def rename_then_crash(session: SessionDep, user_id: int) -> None:
        await rename(session, user_id)
        raise RuntimeError("boom")

    @router.get("/no-session")
    async def no_session() -> dict[str, bool]:
        return {"ok": True}

    async def second_statement_starts_a_transaction(session: SessionDep) -> dict[str, bool]:
        # Statements of one transaction see the same transaction id.
        first = await session.scalar(text("SELECT pg_current_xact_id()::text"))
        second = await session.scalar(text("SELECT pg_current_xact_id()::text"))
        return {"own_transaction": first != second}

    router.add_api_route("/statements", second_statement_starts_a_transaction, methods=["GET"])
    router.add_api_route("/statements", second_statement_starts_a_transaction, methods=["POST"])


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    with_unit_of_work = APIRouter(prefix="/uow", route_class=UnitOfWorkRoute)
    without = APIRouter(prefix="/plain")
    _routes(with_unit_of_work)
    _routes(without)
    application.include_router(with_unit_of_work)
    application.include_router(without)
    async with LifespanManager(application):
        yield application


@pytest.fixture
def checkouts(app: FastAPI) -> Iterator[list[int]]:
    """One entry per connection the app takes from its pool."""
    taken: list[int] = []

    def count(*_: Any) -> None:
        taken.append(1)

    engine = app.state.database.engine.sync_engine
    event.listen(engine, "checkout", count)
    yield taken
    event.remove(engine, "checkout", count)


async def _name_of(app: FastAPI, user_id: int) -> str:
    async with app.state.database.sessionmaker() as session:
        name: str = await session.scalar(
            text("SELECT full_name FROM users WHERE id = :id"), {"id": user_id}
        )
        return name


@pytest.fixture
async def user_id(app: FastAPI) -> int:
    async with app.state.database.sessionmaker() as session:
        user = User(email="uow@example.com", full_name="original", password_hash="x")
        session.add(user)
        await session.commit()
        return user.id


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_what_a_route_wrote_is_committed_once_it_answers(
    app: FastAPI, http: AsyncClient, user_id: int
) -> None:
    answer = await http.post(f"/uow/rename/{user_id}")
    assert answer.status_code == 200
    assert await _name_of(app, user_id) == RENAMED


async def test_a_refusal_rolls_back_what_the_route_wrote(
    app: FastAPI, http: AsyncClient, user_id: int
) -> None:
    answer = await http.post(f"/uow/rename/{user_id}/refuse")
    assert answer.status_code == 409
    assert answer.json()["error"] == "refused"
    assert await _name_of(app, user_id) == "original"


async def test_a_refusal_that_keeps_changes_commits_them(
    app: FastAPI, http: AsyncClient, user_id: int
) -> None:
    answer = await http.post(f"/uow/rename/{user_id}/refuse-keeping")
    assert answer.status_code == 409
    assert await _name_of(app, user_id) == RENAMED


async def test_a_crash_rolls_back_and_answers_500(
    app: FastAPI, http: AsyncClient, user_id: int
) -> None:
    answer = await http.post(f"/uow/rename/{user_id}/crash")
    assert answer.status_code == 500
    assert answer.json()["error"] == "internal_error"
    assert await _name_of(app, user_id) == "original"


async def test_a_request_that_asks_for_no_session_takes_no_connection(
    http: AsyncClient, checkouts: list[int]
) -> None:
    answer = await http.get("/uow/no-session")
    assert answer.status_code == 200
    assert checkouts == []


async def test_a_route_that_cannot_end_a_unit_of_work_gets_no_session(
    app: FastAPI, http: AsyncClient, user_id: int, checkouts: list[int]
) -> None:
    answer = await http.post(f"/plain/rename/{user_id}")
    assert answer.status_code == 500
    assert checkouts == []
    assert await _name_of(app, user_id) == "original"


@pytest.mark.postgres
async def test_a_read_runs_each_statement_alone_and_a_write_in_one_transaction(
    http: AsyncClient,
) -> None:
    read = await http.get("/uow/statements")
    write = await http.post("/uow/statements")
    assert read.json() == {"own_transaction": True}
    assert write.json() == {"own_transaction": False}
