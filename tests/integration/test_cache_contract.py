"""The read cache's contract, generated from the app's routes (PostgreSQL and Redis).

Every write route of the API must be declared by its domain (core.cache_contract: which
counters it bumps, or that it changes nothing cached) and have a scenario here. Each
scenario's write is made over HTTP after every cached read has been warmed for every
caller involved; then each cached read must answer what the database says now, as a second
app without Redis answers it, and the write must have bumped only counters it declares.
A new write route fails here until it has both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from httpx import ASGITransport, AsyncClient, Response

from taskflow.config import Settings
from taskflow.core.cache import Cache
from taskflow.core.cached_reads import CachedRead, declared_read
from taskflow.core.metrics import CACHE_HITS
from taskflow.domains import CACHE_CONTRACT
from taskflow.main import API_PREFIX, create_app
from taskflow.users.models import User
from tests.conftest import build_settings
from tests.factories import DEFAULT_PASSWORD, DomainFactory
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.settings(redis_url="from-fixture")

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The headers that belong to a cached answer.
_ANSWER_HEADERS = ("etag", "x-total-count", "link")
NEW_PASSWORD = "another-horse-7"


def write_routes(app: FastAPI) -> dict[str, str]:
    """Every write route of the API: operation id (route function name) -> method and path."""
    found: dict[str, str] = {}
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        methods = (route.methods or set()) & _WRITES
        if isinstance(original, APIRoute) and methods and route.path_format.startswith(API_PREFIX):
            found[original.name] = f"{'/'.join(sorted(methods))} {route.path_format}"
    return found


def cached_routes(app: FastAPI) -> dict[str, CachedRead]:
    """Every route whose answers are cached: operation id -> the read it declares."""
    found: dict[str, CachedRead] = {}
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if isinstance(original, APIRoute) and (read := declared_read(original.endpoint)):
            found[original.name] = read
    return found


@cache
def _app() -> FastAPI:
    """An app built as the tests build theirs, for its routes."""
    return create_app(build_settings(database_url="sqlite+aiosqlite:///:memory:"))


def _routes() -> dict[str, str]:
    return write_routes(_app())


# The routes whose answers World.urls() reads.
WARMED = frozenset({"list_projects", "read_project", "list_tasks", "read_task"})


# --- the world every scenario starts from -------------------------------------------------


@dataclass
class World:
    """Two projects of `owner`: `project` (member: editor) with `task` assigned to the
    member, and `other` (member: viewer) with `other_task` created by `author`, who is in
    neither project any more. `outsider` sees nothing; `admin` sees everything."""

    client: AsyncClient
    make: DomainFactory
    mailbox: Mailbox
    owner: User
    member: User
    outsider: User
    author: User
    admin: User
    project_id: int
    other_id: int
    task_id: int
    other_task_id: int
    readers: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def urls(self) -> list[str]:
        """Every cached read (see WARMED), of everything in the world, and the principal."""
        api = API_PREFIX
        return [
            f"{api}/projects",
            f"{api}/projects/{self.project_id}",
            f"{api}/projects/{self.other_id}",
            f"{api}/tasks",
            f"{api}/tasks?project_id={self.project_id}",
            f"{api}/tasks?project_id={self.other_id}&sort=title",
            f"{api}/tasks/{self.task_id}",
            f"{api}/tasks/{self.other_task_id}",
            f"{api}/users/me",
        ]

    def as_(self, user: User) -> dict[str, str]:
        return self.make.headers(user)


async def _world(client: AsyncClient, make: DomainFactory, mailbox: Mailbox) -> World:
    owner, member, outsider = await make(), await make(), await make()
    author, admin = await make(), await make.admin()
    project, other = await make.project(owner), await make.project(owner)
    await make.member(project, member, "editor")
    await make.member(other, member, "viewer")
    task = await make.task(project, assignee_id=member.id)
    other_task = await make.task(other, created_by=author)
    world = World(
        client=client,
        make=make,
        mailbox=mailbox,
        owner=owner,
        member=member,
        outsider=outsider,
        author=author,
        admin=admin,
        project_id=project.id,
        other_id=other.id,
        task_id=task.id,
        other_task_id=other_task.id,
    )
    key = await client.post(
        f"{API_PREFIX}/api-keys",
        json={"name": "reader", "scopes": ["projects:read", "tasks:read", "users:read"]},
        headers=world.as_(member),
    )
    assert key.status_code == 201, key.text
    world.readers = {
        "owner": world.as_(owner),
        "member": world.as_(member),
        "member's API key": {"X-API-Key": key.json()["key"]},
        "outsider": world.as_(outsider),
        "author": world.as_(author),
        "admin": world.as_(admin),
    }
    return world


# --- one scenario per write route ---------------------------------------------------------

Step = Callable[[World], Awaitable[Any]]


@dataclass(frozen=True)
class Scenario:
    """`setup` runs before the cached reads are warmed; `write` is the write under test."""

    write: Callable[[World], Awaitable[Response]]
    setup: Step | None = None


def _post(path: str, body: Callable[[World], Any], who: Callable[[World], User]) -> Step:
    async def send(world: World) -> Response:
        return await world.client.post(
            f"{API_PREFIX}{path.format(w=world)}", json=body(world), headers=world.as_(who(world))
        )

    return send


def _patch(path: str, body: Callable[[World], Any], who: Callable[[World], User]) -> Step:
    async def send(world: World) -> Response:
        return await world.client.patch(
            f"{API_PREFIX}{path.format(w=world)}", json=body(world), headers=world.as_(who(world))
        )

    return send


def _delete(path: str, who: Callable[[World], User]) -> Step:
    async def send(world: World) -> Response:
        return await world.client.delete(
            f"{API_PREFIX}{path.format(w=world)}", headers=world.as_(who(world))
        )

    return send


def _owner(world: World) -> User:
    return world.owner


def _member(world: World) -> User:
    return world.member


def _admin(world: World) -> User:
    return world.admin


def _login_body(world: World) -> dict[str, str]:
    return {"email": world.member.email, "password": DEFAULT_PASSWORD}


async def _failed_login(world: World) -> None:
    """A failed login of the member's: a later success clears the failed attempts."""
    failed = await world.client.post(
        f"{API_PREFIX}/auth/login", json={"email": world.member.email, "password": "wrong-1"}
    )
    assert failed.status_code == 401


async def _logged_in(world: World) -> None:
    """A refresh token of the member's."""
    tokens = await world.client.post(f"{API_PREFIX}/auth/login", json=_login_body(world))
    assert tokens.status_code == 200, tokens.text
    world.notes["refresh_token"] = tokens.json()["refresh_token"]


async def _login_with_form(world: World) -> Response:
    return await world.client.post(
        f"{API_PREFIX}/auth/token",
        data={"username": world.member.email, "password": DEFAULT_PASSWORD},
    )


async def _reset_requested(world: World) -> None:
    sent = await world.client.post(
        f"{API_PREFIX}/auth/password-reset", json={"email": world.member.email}
    )
    assert sent.status_code == 202, sent.text
    world.notes["token"] = world.mailbox.last_to(world.member.email).link_token("reset-password")


async def _email_changed(world: World) -> None:
    """The member changes its email: unverified, with a verification link sent to it."""
    email = f"changed-{world.member.id}@example.com"
    changed = await world.client.patch(
        f"{API_PREFIX}/users/me", json={"email": email}, headers=world.as_(world.member)
    )
    assert changed.status_code == 200, changed.text
    world.notes["token"] = world.mailbox.last_to(email).link_token("verify-email")


async def _second_key(world: World) -> None:
    created = await world.client.post(
        f"{API_PREFIX}/api-keys",
        json={"name": "second", "scopes": ["projects:read"]},
        headers=world.as_(world.member),
    )
    assert created.status_code == 201, created.text
    world.readers["member's second key"] = {"X-API-Key": created.json()["key"]}
    world.notes["second_key_id"] = created.json()["id"]


def _new_account(world: World) -> dict[str, str]:
    return {
        "email": f"new-{world.owner.id}@example.com",
        "password": DEFAULT_PASSWORD,
        "full_name": "New Account",
    }


async def _commented(world: World) -> None:
    """The member has commented on the task."""
    posted = await world.client.post(
        f"{API_PREFIX}/tasks/{world.task_id}/comments",
        json={"body": "first"},
        headers=world.as_(world.member),
    )
    assert posted.status_code == 201, posted.text
    world.notes["comment_id"] = posted.json()["id"]


async def _labelled_task(world: World) -> None:
    """A label of the project, carried by its task (whose cached reads then show it)."""
    created = await world.client.post(
        f"{API_PREFIX}/projects/{world.project_id}/labels",
        json={"name": "tagged", "color": "#123456"},
        headers=world.as_(world.owner),
    )
    assert created.status_code == 201, created.text
    world.notes["label_id"] = created.json()["id"]
    labelled = await world.client.patch(
        f"{API_PREFIX}/tasks/{world.task_id}",
        json={"label_ids": [world.notes["label_id"]]},
        headers=world.as_(world.owner),
    )
    assert labelled.status_code == 200, labelled.text


async def _statuses_noted(world: World) -> None:
    """The ids of the project's statuses, in world.notes by category."""
    response = await world.client.get(
        f"{API_PREFIX}/projects/{world.project_id}/statuses", headers=world.as_(world.owner)
    )
    assert response.status_code == 200, response.text
    for status in response.json():
        world.notes.setdefault(status["category"], status["id"])


_STATUS = "/projects/{w.project_id}/statuses/{w.notes[%s]}"


SCENARIOS: dict[str, Scenario] = {
    # tasks
    "create_task": Scenario(
        _post("/tasks", lambda w: {"title": "new", "project_id": w.other_id}, _owner)
    ),
    "bulk_update_tasks": Scenario(
        _post(
            "/tasks/bulk-update",
            lambda w: {"task_ids": [w.task_id, w.other_task_id], "update_data": {"priority": 5}},
            _owner,
        )
    ),
    "update_task": Scenario(_patch("/tasks/{w.task_id}", lambda w: {"title": "renamed"}, _member)),
    "delete_task": Scenario(_delete("/tasks/{w.task_id}", _member)),
    "move_task": Scenario(
        _post("/tasks/{w.task_id}/move", lambda w: {"project_id": w.other_id}, _owner)
    ),
    # comments: the task views carry comment_count
    "create_comment": Scenario(
        _post("/tasks/{w.task_id}/comments", lambda w: {"body": "a word"}, _member)
    ),
    "update_comment": Scenario(
        _patch("/comments/{w.notes[comment_id]}", lambda w: {"body": "edited"}, _member),
        setup=_commented,
    ),
    "delete_comment": Scenario(
        _delete("/comments/{w.notes[comment_id]}", _owner), setup=_commented
    ),
    # projects
    "create_project": Scenario(_post("/projects", lambda w: {"name": "a new one"}, _owner)),
    "update_project": Scenario(
        _patch(
            "/projects/{w.project_id}", lambda w: {"name": "renamed", "is_archived": True}, _owner
        )
    ),
    "delete_project": Scenario(_delete("/projects/{w.project_id}", _owner)),
    "add_member": Scenario(
        _post(
            "/projects/{w.other_id}/members",
            lambda w: {"email": w.outsider.email, "role": "editor"},
            _owner,
        )
    ),
    "change_member_role": Scenario(
        _patch(
            "/projects/{w.project_id}/members/{w.member.id}", lambda w: {"role": "viewer"}, _owner
        )
    ),
    "remove_member": Scenario(_delete("/projects/{w.project_id}/members/{w.member.id}", _owner)),
    # labels
    "create_label": Scenario(
        _post(
            "/projects/{w.project_id}/labels",
            lambda w: {"name": "new", "color": "#000000"},
            _member,
        )
    ),
    "update_label": Scenario(
        _patch(
            "/projects/{w.project_id}/labels/{w.notes[label_id]}",
            lambda w: {"name": "renamed", "color": "#FFFFFF"},
            _member,
        ),
        setup=_labelled_task,
    ),
    "delete_label": Scenario(
        _delete("/projects/{w.project_id}/labels/{w.notes[label_id]}", _member),
        setup=_labelled_task,
    ),
    # statuses
    "create_status": Scenario(
        _post(
            "/projects/{w.project_id}/statuses",
            lambda w: {"name": "Review", "category": "in_progress", "position": 0},
            _member,
        )
    ),
    # The task in "To do" becomes completed: its views change.
    "update_status": Scenario(
        _patch(_STATUS % "todo", lambda w: {"name": "Finished", "category": "done"}, _member),
        setup=_statuses_noted,
    ),
    "delete_status": Scenario(
        _delete(_STATUS % "todo" + "?move_to={w.notes[done]}", _member), setup=_statuses_noted
    ),
    # users
    "update_me": Scenario(_patch("/users/me", lambda w: {"full_name": "Renamed Member"}, _member)),
    "deactivate_me": Scenario(_delete("/users/me", _member)),
    "create_user": Scenario(_post("/users", _new_account, _admin)),
    "update_user": Scenario(
        _patch(
            "/users/{w.author.id}",
            lambda w: {"full_name": "Renamed Author", "role": "admin"},
            _admin,
        )
    ),
    "deactivate_user": Scenario(_delete("/users/{w.member.id}", _admin)),
    # auth
    "register": Scenario(_post("/auth/register", _new_account, _owner)),
    "login": Scenario(_post("/auth/login", _login_body, _owner), setup=_failed_login),
    "login_with_form": Scenario(_login_with_form, setup=_failed_login),
    "refresh_tokens": Scenario(
        _post("/auth/refresh", lambda w: {"refresh_token": w.notes["refresh_token"]}, _member),
        setup=_logged_in,
    ),
    "logout": Scenario(
        _post("/auth/logout", lambda w: {"refresh_token": w.notes["refresh_token"]}, _member),
        setup=_logged_in,
    ),
    "change_password": Scenario(
        _post(
            "/auth/change-password",
            lambda w: {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
            _member,
        )
    ),
    "request_password_reset": Scenario(
        _post("/auth/password-reset", lambda w: {"email": w.member.email}, _owner)
    ),
    "confirm_password_reset": Scenario(
        _post(
            "/auth/password-reset/confirm",
            lambda w: {"token": w.notes["token"], "new_password": NEW_PASSWORD},
            _owner,
        ),
        setup=_reset_requested,
    ),
    "verify_email": Scenario(
        _post("/auth/verify-email", lambda w: {"token": w.notes["token"]}, _owner),
        setup=_email_changed,
    ),
    "resend_verification": Scenario(
        _post("/auth/verify-email/resend", lambda w: None, _member), setup=_email_changed
    ),
    # API keys
    "create_api_key": Scenario(
        _post("/api-keys", lambda w: {"name": "more", "scopes": ["tasks:read"]}, _member)
    ),
    "delete_api_key": Scenario(
        _delete("/api-keys/{w.notes[second_key_id]}", _member), setup=_second_key
    ),
}


# --- the checks ---------------------------------------------------------------------------


def test_every_write_route_is_declared_and_has_a_scenario() -> None:
    routes = _routes()
    undeclared = sorted(set(routes) - CACHE_CONTRACT.writes.keys())
    without_scenario = sorted(set(routes) - SCENARIOS.keys())
    assert not undeclared, (
        "write routes without a cache declaration in their domain's cache.py "
        f"(core.cache_contract): {[f'{name} ({routes[name]})' for name in undeclared]}"
    )
    assert not without_scenario, (
        "write routes without a scenario in this test's SCENARIOS: "
        f"{[f'{name} ({routes[name]})' for name in without_scenario]}"
    )
    assert not (CACHE_CONTRACT.writes.keys() - routes.keys()), "declarations of no route"
    assert not (SCENARIOS.keys() - routes.keys()), "scenarios of no route"


def test_every_cached_read_is_declared_and_warmed_here() -> None:
    cached = cached_routes(_app())
    undeclared = sorted(name for name, read in cached.items() if read not in CACHE_CONTRACT.reads)
    assert not undeclared, f"cached reads no domain declares in its DomainCache: {undeclared}"
    assert cached.keys() == WARMED, (
        f"cached routes that this test does not read (add them to World.urls and WARMED): "
        f"{sorted(cached.keys() - WARMED)}; no longer cached: {sorted(WARMED - cached.keys())}"
    )


@asynccontextmanager
async def _without_redis(settings: Settings) -> AsyncIterator[AsyncClient]:
    """Another app on the same database, with no Redis: it answers what the database says."""
    fresh = create_app(settings.model_copy(update={"redis_url": None}))
    async with (
        LifespanManager(fresh),
        AsyncClient(transport=ASGITransport(app=fresh), base_url="http://testserver") as client,
    ):
        yield client


def _shown(response: Response) -> tuple[int, Any, dict[str, str]]:
    """What a read shows: its status, its JSON and the headers cached with it."""
    body = response.json() if response.content else None
    if isinstance(body, dict):
        body.pop("request_id", None)  # an error's, different on every answer
    headers = {name: response.headers[name] for name in _ANSWER_HEADERS if name in response.headers}
    return response.status_code, body, headers


def _counter_kind(cache: Cache, key: str) -> str | None:
    """ "project", "user" or "auth" for a bumped counter; None for the one of every change."""
    if key == cache.everything:
        return None
    return key.removeprefix(cache.key("gen", "")).split(":")[0]


def _record_bumps(cache: Cache, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    bumped: list[str] = []
    bump = cache.bump

    async def recording(keys: Iterable[str]) -> None:
        keys = list(keys)
        bumped.extend(keys)
        await bump(keys)

    monkeypatch.setattr(cache, "bump", recording)
    return bumped


async def _warm(client: AsyncClient, readers: Iterable[dict[str, str]], urls: list[str]) -> None:
    """Read every URL as every reader, then check each answer that can be cached now is."""
    readers = list(readers)
    cacheable = 0
    for headers in readers:
        for url in urls:
            answered = await client.get(url, headers=headers)
            # Only answers of routes with a declared read, and only successes, are stored.
            cacheable += answered.status_code == 200 and not url.endswith("/users/me")
    hits = CACHE_HITS._value.get()
    for headers in readers:
        for url in urls:
            await client.get(url, headers=headers)
    assert CACHE_HITS._value.get() - hits == cacheable, "the reads were not all cached"


@pytest.mark.slow
@pytest.mark.parametrize("operation", sorted(_routes()))
async def test_every_cached_read_shows_a_write_at_once(
    operation: str,
    app: FastAPI,
    client: AsyncClient,
    settings: Settings,
    make: DomainFactory,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = SCENARIOS.get(operation)
    declared = CACHE_CONTRACT.writes.get(operation)
    assert scenario is not None, f"{operation}: no scenario in SCENARIOS"
    assert declared is not None, f"{operation}: no cache declaration in its domain"
    world = await _world(client, make, mailbox)
    if scenario.setup is not None:
        await scenario.setup(world)
    urls = world.urls()
    await _warm(client, world.readers.values(), urls)
    cache: Cache = app.state.cache
    bumped = _record_bumps(cache, monkeypatch)

    written = await scenario.write(world)
    assert written.is_success, f"{operation}: {written.status_code} {written.text}"

    kinds = {kind for key in bumped if (kind := _counter_kind(cache, key)) is not None}
    undeclared = kinds - {str(counter) for counter in declared.counters}
    assert not undeclared, f"{operation} bumps counters it does not declare: {sorted(undeclared)}"
    if declared.nothing:
        assert bumped == [], f"{operation} is declared to change nothing cached, yet bumps {bumped}"
    stale = []
    async with _without_redis(settings) as fresh:
        for reader, headers in world.readers.items():
            for url in urls:
                cached = _shown(await client.get(url, headers=headers))
                truth = _shown(await fresh.get(url, headers=headers))
                if cached != truth:
                    stale.append(f"GET {url} as {reader}:\n  cached   {cached}\n  database {truth}")
    assert not stale, f"after {operation}, stale cached reads:\n" + "\n".join(stale)
