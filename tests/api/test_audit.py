"""The security audit log: each event stored once by the action that causes it, with who, whom,
from where, under which request and when, never a secret; and the admin and personal views."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from httpx import AsyncClient, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.audit.models import AuditEntry, AuditEvent
from taskflow.users.models import User
from tests.factories import DEFAULT_PASSWORD, DomainFactory, unique_email
from tests.support.mailbox import Mailbox

API = "/api/v1"
ADMIN_AUDIT = f"{API}/admin/audit"
MY_AUDIT = f"{API}/users/me/audit"
LOCAL_IP = "127.0.0.1"  # the peer httpx's ASGITransport reports
NEW_PASSWORD = "fresh-secret-77"
ENTRY_FIELDS = {
    "id",
    "event",
    "actor_id",
    "subject_user_id",
    "ip",
    "request_id",
    "created_at",
    "details",
}
_LINK = re.compile(r'<(?P<url>[^>]+)>;\s*rel="(?P<rel>[a-z]+)"')

Sessions = async_sessionmaker[AsyncSession]


# --- helpers ------------------------------------------------------------------------------


def new_request_id() -> str:
    return f"audit-{uuid.uuid4().hex}"


def traced(request_id: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    return {**(headers or {}), "X-Request-ID": request_id}


async def login(
    client: AsyncClient,
    email: str,
    password: str = DEFAULT_PASSWORD,
    *,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return await client.post(
        f"{API}/auth/login",
        json={"email": email, "password": password},
        headers=traced(request_id or new_request_id(), headers),
    )


async def logged_in(client: AsyncClient, user: User) -> dict[str, Any]:
    response = await login(client, user.email)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


async def stored(sessionmaker: Sessions) -> list[AuditEntry]:
    """Every entry in the audit table, oldest id first."""
    async with sessionmaker() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def of_request(entries: list[AuditEntry], request_id: str) -> list[AuditEntry]:
    return [entry for entry in entries if entry.request_id == request_id]


def the_one(entries: list[AuditEntry], event: AuditEvent, request_id: str) -> AuditEntry:
    """The single entry of this event, written by the request with this id and no other."""
    matching = [entry for entry in entries if entry.event == event.value]
    assert len(matching) == 1, [(e.event, e.request_id) for e in entries]
    entry = matching[0]
    assert entry.request_id == request_id
    return entry


def assert_entry(
    entry: AuditEntry,
    *,
    actor_id: int | None,
    subject_user_id: int | None,
    details: dict[str, Any],
    ip: str = LOCAL_IP,
    between: tuple[datetime, datetime] | None = None,
) -> None:
    assert entry.actor_id == actor_id
    assert entry.subject_user_id == subject_user_id
    assert entry.ip == ip
    assert entry.details == details
    if between is not None:
        assert between[0] <= entry.created_at <= between[1]


def as_json(entry: AuditEntry) -> str:
    return json.dumps(
        {column: getattr(entry, column) for column in ENTRY_FIELDS}, default=str, sort_keys=True
    )


def assert_no_secrets(entries: list[AuditEntry], *secrets: str) -> None:
    assert entries, "nothing was audited, so nothing could leak"
    for secret in secrets:
        assert secret
        for entry in entries:
            assert secret not in as_json(entry), f"a secret is stored in {entry.event}"


@contextmanager
def window() -> Iterator[list[datetime]]:
    """[before, after] around the code in the block, to bound a stored created_at."""
    moments = [datetime.now(UTC)]
    yield moments
    moments.append(datetime.now(UTC))


def at(moment: datetime) -> time_machine.travel:
    return time_machine.travel(moment, tick=True)


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def assert_error(response: Response, status_code: int, error: str) -> None:
    assert response.status_code == status_code, response.text
    assert response.json()["error"] == error


def links(response: Response) -> dict[str, dict[str, list[str]]]:
    """rel -> the query of its URL."""
    return {
        match["rel"]: parse_qs(urlsplit(match["url"]).query)
        for match in _LINK.finditer(response.headers.get("Link", ""))
    }


async def listed(
    client: AsyncClient, url: str, headers: dict[str, str], **params: Any
) -> tuple[list[dict[str, Any]], Response]:
    response = await client.get(url, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body, response


# --- logging in ---------------------------------------------------------------------------


async def test_login_success_is_recorded_once_with_actor_subject_ip_and_request_id(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    user = await make()
    request_id = new_request_id()

    with window() as moments:
        response = await login(client, user.email, request_id=request_id)

    assert response.status_code == 200, response.text
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.LOGIN_SUCCESS, request_id)
    assert_entry(
        entry,
        actor_id=user.id,
        subject_user_id=user.id,
        details={},
        between=(moments[0], moments[1]),
    )
    assert [e.event for e in entries] == ["login_success"]
    tokens = response.json()
    assert_no_secrets(
        entries,
        DEFAULT_PASSWORD,
        user.password_hash,
        tokens["access_token"],
        tokens["refresh_token"],
    )


async def test_login_failure_for_an_unknown_email_is_recorded_although_it_answers_401(
    client: AsyncClient, sessionmaker: Sessions
) -> None:
    email = unique_email("nobody")
    request_id = new_request_id()

    response = await login(client, email.upper(), "guessed-password-3", request_id=request_id)

    assert_error(response, 401, "invalid_credentials")
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.LOGIN_FAILURE, request_id)
    assert_entry(
        entry,
        actor_id=None,
        subject_user_id=None,
        details={"reason": "unknown_email", "email": email},
    )
    assert [e.event for e in entries] == ["login_failure"]
    assert_no_secrets(entries, "guessed-password-3")


@pytest.mark.parametrize(
    "username",
    [pytest.param("u" * 100_000, id="100000-characters"), pytest.param("not an email", id="words")],
)
async def test_a_form_login_with_a_username_that_is_no_email_stores_no_email_and_stays_small(
    client: AsyncClient, sessionmaker: Sessions, username: str
) -> None:
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/token",
        data={"username": username, "password": "guessed-password-3"},
        headers=traced(request_id),
    )

    assert_error(response, 401, "invalid_credentials")
    entry = the_one(await stored(sessionmaker), AuditEvent.LOGIN_FAILURE, request_id)
    assert entry.details == {
        "reason": "unknown_email",
        "identifier_sha256": hashlib.sha256(username.encode()).hexdigest()[:16],
        "identifier_length": len(username),
    }
    assert len(as_json(entry)) < 1000


async def test_a_form_login_with_a_plausible_but_unknown_email_stores_it(
    client: AsyncClient, sessionmaker: Sessions
) -> None:
    email = unique_email("form")
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/token",
        data={"username": email, "password": "guessed-password-3"},
        headers=traced(request_id),
    )

    assert_error(response, 401, "invalid_credentials")
    entry = the_one(await stored(sessionmaker), AuditEvent.LOGIN_FAILURE, request_id)
    assert entry.details == {"reason": "unknown_email", "email": email}


@pytest.mark.parametrize(
    ("reason", "fields", "password", "error"),
    [
        pytest.param(
            "wrong_password", {}, "not-the-password-1", "invalid_credentials", id="wrong-password"
        ),
        pytest.param(
            "inactive", {"is_active": False}, DEFAULT_PASSWORD, "invalid_credentials", id="inactive"
        ),
        pytest.param("locked", {"locked": True}, DEFAULT_PASSWORD, "account_locked", id="locked"),
    ],
)
async def test_login_failure_of_a_known_account_is_recorded_with_its_reason(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: Sessions,
    reason: str,
    fields: dict[str, Any],
    password: str,
    error: str,
) -> None:
    arranged = {name: value for name, value in fields.items() if name != "locked"}
    if fields.get("locked"):
        arranged["locked_until"] = datetime.now(UTC) + timedelta(minutes=10)
    user = await make(**arranged)
    request_id = new_request_id()

    response = await login(client, user.email, password, request_id=request_id)

    assert_error(response, 401, error)  # the request fails, its audit entry is kept
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.LOGIN_FAILURE, request_id)
    assert_entry(entry, actor_id=None, subject_user_id=user.id, details={"reason": reason})
    assert [e.event for e in entries] == ["login_failure"]
    assert_no_secrets(entries, password, user.password_hash)


@pytest.mark.settings(lockout_threshold=2, lockout_minutes=7)
async def test_account_locked_is_recorded_once_by_the_failure_that_reaches_the_threshold(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    user = await make()
    first, second, third = new_request_id(), new_request_id(), new_request_id()

    assert_error(
        await login(client, user.email, "wrong-one-1", request_id=first), 401, "invalid_credentials"
    )
    assert [e.event for e in of_request(await stored(sessionmaker), first)] == ["login_failure"]

    assert_error(
        await login(client, user.email, "wrong-two-2", request_id=second),
        401,
        "invalid_credentials",
    )
    entries = await stored(sessionmaker)
    locked = the_one(entries, AuditEvent.ACCOUNT_LOCKED, second)
    assert_entry(locked, actor_id=None, subject_user_id=user.id, details={"minutes": 7})
    assert sorted(e.event for e in of_request(entries, second)) == [
        "account_locked",
        "login_failure",
    ]

    # Refused while locked: one more failure, no second lock.
    assert_error(await login(client, user.email, request_id=third), 401, "account_locked")
    entries = await stored(sessionmaker)
    the_one(entries, AuditEvent.ACCOUNT_LOCKED, second)
    [refused] = of_request(entries, third)
    assert refused.event == "login_failure"
    assert refused.details == {"reason": "locked"}
    assert_no_secrets(entries, "wrong-one-1", "wrong-two-2", DEFAULT_PASSWORD)


# --- tokens -------------------------------------------------------------------------------


async def test_token_refresh_is_recorded_once_without_the_tokens(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    user = await make()
    tokens = await logged_in(client, user)
    request_id = new_request_id()

    with window() as moments:
        response = await client.post(
            f"{API}/auth/refresh",
            json={"refresh_token": tokens["refresh_token"]},
            headers=traced(request_id),
        )

    assert response.status_code == 200, response.text
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.TOKEN_REFRESH, request_id)
    assert_entry(
        entry,
        actor_id=user.id,
        subject_user_id=user.id,
        details={},
        between=(moments[0], moments[1]),
    )
    assert [e.event for e in of_request(entries, request_id)] == ["token_refresh"]
    renewed = response.json()
    assert_no_secrets(
        entries,
        tokens["refresh_token"],
        tokens["access_token"],
        renewed["refresh_token"],
        renewed["access_token"],
    )


async def test_token_reuse_is_recorded_although_it_answers_401(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    user = await make()
    tokens = await logged_in(client, user)
    spent = tokens["refresh_token"]
    rotated = await client.post(f"{API}/auth/refresh", json={"refresh_token": spent})
    assert rotated.status_code == 200, rotated.text
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": spent}, headers=traced(request_id)
    )

    assert_error(response, 401, "token_reuse_detected")
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.TOKEN_REUSE_DETECTED, request_id)
    assert_entry(entry, actor_id=None, subject_user_id=user.id, details={"family_revoked": True})
    assert [e.event for e in of_request(entries, request_id)] == ["token_reuse_detected"]
    assert_no_secrets(entries, spent, rotated.json()["refresh_token"])


async def test_logout_is_recorded_once_without_the_refresh_token(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    user = await make()
    tokens = await logged_in(client, user)
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=traced(request_id),
    )

    assert response.status_code == 204, response.text
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.LOGOUT, request_id)
    assert_entry(entry, actor_id=user.id, subject_user_id=user.id, details={})
    assert_no_secrets(entries, tokens["refresh_token"], tokens["access_token"])


# --- passwords and email ------------------------------------------------------------------


async def test_password_change_is_recorded_once_without_either_password(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    user = await make()
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/change-password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=traced(request_id, make.headers(user)),
    )

    assert response.status_code == 204, response.text
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.PASSWORD_CHANGED, request_id)
    assert_entry(entry, actor_id=user.id, subject_user_id=user.id, details={})
    assert [e.event for e in entries] == ["password_changed"]
    assert_no_secrets(entries, DEFAULT_PASSWORD, NEW_PASSWORD)


async def test_password_reset_request_for_an_account_is_recorded_without_the_reset_token(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions, mailbox: Mailbox
) -> None:
    user = await make()
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/password-reset", json={"email": user.email}, headers=traced(request_id)
    )

    assert response.status_code == 202, response.text
    token = mailbox.last_to(user.email).link_token("reset-password")
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.PASSWORD_RESET_REQUESTED, request_id)
    assert_entry(entry, actor_id=None, subject_user_id=user.id, details={"sent": True})
    assert [e.event for e in entries] == ["password_reset_requested"]
    assert_no_secrets(entries, token)


async def test_password_reset_request_for_an_unknown_email_is_recorded_as_not_sent(
    client: AsyncClient, sessionmaker: Sessions, mailbox: Mailbox
) -> None:
    email = unique_email("ghost")
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/password-reset", json={"email": email}, headers=traced(request_id)
    )

    assert response.status_code == 202, response.text
    assert mailbox.to(email) == []
    entry = the_one(await stored(sessionmaker), AuditEvent.PASSWORD_RESET_REQUESTED, request_id)
    assert_entry(
        entry, actor_id=None, subject_user_id=None, details={"email": email, "sent": False}
    )


async def test_password_reset_request_for_an_inactive_account_names_it_as_not_sent(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions, mailbox: Mailbox
) -> None:
    user = await make(is_active=False)
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/password-reset", json={"email": user.email}, headers=traced(request_id)
    )

    assert response.status_code == 202, response.text
    assert mailbox.to(user.email) == []
    entry = the_one(await stored(sessionmaker), AuditEvent.PASSWORD_RESET_REQUESTED, request_id)
    assert_entry(
        entry,
        actor_id=None,
        subject_user_id=user.id,
        details={"email": user.email, "sent": False},
    )


async def test_password_reset_completion_is_recorded_once_without_token_or_password(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions, mailbox: Mailbox
) -> None:
    user = await make()
    requested = await client.post(f"{API}/auth/password-reset", json={"email": user.email})
    assert requested.status_code == 202, requested.text
    token = mailbox.last_to(user.email).link_token("reset-password")
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/password-reset/confirm",
        json={"token": token, "new_password": NEW_PASSWORD},
        headers=traced(request_id),
    )

    assert response.status_code == 204, response.text
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.PASSWORD_RESET_COMPLETED, request_id)
    assert_entry(entry, actor_id=user.id, subject_user_id=user.id, details={})
    assert [e.event for e in of_request(entries, request_id)] == ["password_reset_completed"]
    assert_no_secrets(entries, token, NEW_PASSWORD)


async def test_email_verification_is_recorded_once_without_the_token(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions, mailbox: Mailbox
) -> None:
    user = await make(is_verified=False)
    resent = await client.post(f"{API}/auth/verify-email/resend", headers=make.headers(user))
    assert resent.status_code == 204, resent.text
    token = mailbox.last_to(user.email).link_token("verify-email")
    request_id = new_request_id()

    response = await client.post(
        f"{API}/auth/verify-email", json={"token": token}, headers=traced(request_id)
    )

    assert response.status_code == 204, response.text
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.EMAIL_VERIFIED, request_id)
    assert_entry(entry, actor_id=user.id, subject_user_id=user.id, details={"email": user.email})
    assert [e.event for e in entries] == ["email_verified"]
    assert_no_secrets(entries, token)


# --- accounts -----------------------------------------------------------------------------


async def test_role_change_is_recorded_once_with_from_and_to(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    admin, user = await make.admin(), await make()
    request_id = new_request_id()

    response = await client.patch(
        f"{API}/users/{user.id}",
        json={"role": "admin"},
        headers=traced(request_id, make.headers(admin)),
    )
    assert response.status_code == 200, response.text
    # Setting the role it already has changes nothing, so records nothing.
    unchanged = await client.patch(
        f"{API}/users/{user.id}",
        json={"role": "admin", "full_name": "Still Admin"},
        headers=make.headers(admin),
    )
    assert unchanged.status_code == 200, unchanged.text

    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.ROLE_CHANGED, request_id)
    assert_entry(
        entry,
        actor_id=admin.id,
        subject_user_id=user.id,
        details={"from": "user", "to": "admin"},
    )
    assert [e.event for e in entries] == ["role_changed"]


async def _deactivate_by_delete(
    client: AsyncClient, user: User, headers: dict[str, str]
) -> Response:
    return await client.delete(f"{API}/users/{user.id}", headers=headers)


async def _deactivate_by_patch(
    client: AsyncClient, user: User, headers: dict[str, str]
) -> Response:
    return await client.patch(f"{API}/users/{user.id}", json={"is_active": False}, headers=headers)


async def _deactivate_self(client: AsyncClient, user: User, headers: dict[str, str]) -> Response:
    return await client.delete(f"{API}/users/me", headers=headers)


Deactivation = Callable[[AsyncClient, User, dict[str, str]], Awaitable[Response]]


@pytest.mark.parametrize(
    ("deactivate", "by_admin"),
    [
        pytest.param(_deactivate_by_delete, True, id="admin-delete"),
        pytest.param(_deactivate_by_patch, True, id="admin-patch"),
        pytest.param(_deactivate_self, False, id="self"),
    ],
)
async def test_user_deactivation_is_recorded_once_with_who_did_it(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: Sessions,
    deactivate: Deactivation,
    by_admin: bool,
) -> None:
    user = await make()
    actor = await make.admin() if by_admin else user
    headers = make.headers(actor)
    request_id = new_request_id()

    response = await deactivate(client, user, traced(request_id, headers))
    assert response.status_code in (200, 204), response.text
    if by_admin:  # deactivating an inactive account again is no new event
        again = await deactivate(client, user, headers)
        assert again.status_code in (200, 204), again.text

    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.USER_DEACTIVATED, request_id)
    assert_entry(entry, actor_id=actor.id, subject_user_id=user.id, details={})
    assert [e.event for e in entries] == ["user_deactivated"]


# --- API keys -----------------------------------------------------------------------------


async def test_api_key_creation_is_recorded_once_with_id_name_and_scopes_but_not_the_key(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    user = await make()
    request_id = new_request_id()

    response = await client.post(
        f"{API}/api-keys",
        json={"name": "nightly export", "scopes": ["tasks:read", "projects:read"]},
        headers=traced(request_id, make.headers(user)),
    )

    assert response.status_code == 201, response.text
    created = response.json()
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.API_KEY_CREATED, request_id)
    assert entry.actor_id == user.id
    assert entry.subject_user_id == user.id
    assert entry.ip == LOCAL_IP
    assert entry.details["key_id"] == created["id"]
    assert entry.details["name"] == "nightly export"
    assert sorted(entry.details["scopes"]) == ["projects:read", "tasks:read"]
    assert set(entry.details) <= {"key_id", "name", "scopes", "prefix"}
    assert [e.event for e in entries] == ["api_key_created"]
    assert_no_secrets(entries, created["key"])


async def test_api_key_revocation_is_recorded_once_without_the_key(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    user = await make()
    headers = make.headers(user)
    created = await client.post(
        f"{API}/api-keys", json={"name": "old", "scopes": ["tasks:read"]}, headers=headers
    )
    assert created.status_code == 201, created.text
    key = created.json()
    request_id = new_request_id()

    response = await client.delete(
        f"{API}/api-keys/{key['id']}", headers=traced(request_id, headers)
    )

    assert response.status_code == 204, response.text
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.API_KEY_REVOKED, request_id)
    assert_entry(entry, actor_id=user.id, subject_user_id=user.id, details={"key_id": key["id"]})
    assert_no_secrets(entries, key["key"])


# --- projects -----------------------------------------------------------------------------


async def test_member_added_is_recorded_once_with_project_and_role(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner, newcomer = await make(), await make()
    project = await make.project(owner)
    request_id = new_request_id()

    response = await client.post(
        f"{API}/projects/{project.id}/members",
        json={"email": newcomer.email, "role": "editor"},
        headers=traced(request_id, make.headers(owner)),
    )

    assert response.status_code == 201, response.text
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.MEMBER_ADDED, request_id)
    assert_entry(
        entry,
        actor_id=owner.id,
        subject_user_id=newcomer.id,
        details={"project_id": project.id, "role": "editor"},
    )
    assert [e.event for e in entries] == ["member_added"]


async def test_member_removed_is_recorded_once_with_project_and_role(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "viewer")
    request_id = new_request_id()

    response = await client.delete(
        f"{API}/projects/{project.id}/members/{member.id}",
        headers=traced(request_id, make.headers(owner)),
    )

    assert response.status_code == 204, response.text
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.MEMBER_REMOVED, request_id)
    assert_entry(
        entry,
        actor_id=owner.id,
        subject_user_id=member.id,
        details={"project_id": project.id, "role": "viewer"},
    )
    assert [e.event for e in entries] == ["member_removed"]


async def test_project_deletion_is_recorded_once_with_the_actor_and_the_owner(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions
) -> None:
    admin, owner = await make.admin(), await make()
    project = await make.project(owner, name="Quarterly plan")
    request_id = new_request_id()

    response = await client.delete(
        f"{API}/projects/{project.id}", headers=traced(request_id, make.headers(admin))
    )

    assert response.status_code == 204, response.text
    entries = await stored(sessionmaker)
    entry = the_one(entries, AuditEvent.PROJECT_DELETED, request_id)
    assert_entry(
        entry,
        actor_id=admin.id,
        subject_user_id=owner.id,
        details={"project_id": project.id, "name": "Quarterly plan"},
    )
    assert [e.event for e in entries] == ["project_deleted"]


# --- the client address -------------------------------------------------------------------


@pytest.mark.settings(trusted_proxies=["127.0.0.1"])
@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        pytest.param("203.0.113.9", "203.0.113.9", id="one-hop"),
        # Only the hop our proxy saw is believed; what the client wrote before it is not.
        pytest.param("198.51.100.1, 203.0.113.9", "203.0.113.9", id="spoofed-first-hop"),
        pytest.param("203.0.113.9, 127.0.0.1", "203.0.113.9", id="through-two-proxies"),
    ],
)
async def test_ip_comes_from_x_forwarded_for_when_the_peer_is_a_trusted_proxy(
    client: AsyncClient,
    make: DomainFactory,
    sessionmaker: Sessions,
    forwarded_for: str,
    expected: str,
) -> None:
    user = await make()
    request_id = new_request_id()

    response = await login(
        client, user.email, request_id=request_id, headers={"X-Forwarded-For": forwarded_for}
    )

    assert response.status_code == 200, response.text
    entry = the_one(await stored(sessionmaker), AuditEvent.LOGIN_SUCCESS, request_id)
    assert entry.ip == expected


@pytest.mark.parametrize(
    "trusted",
    [
        pytest.param("none", id="no-trusted-proxies"),
        pytest.param(
            "other",
            id="peer-not-trusted",
            marks=pytest.mark.settings(trusted_proxies=["10.0.0.0/8"]),
        ),
    ],
)
async def test_ip_ignores_x_forwarded_for_unless_the_peer_is_a_trusted_proxy(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions, trusted: str
) -> None:
    user = await make()
    request_id = new_request_id()

    failed = await login(
        client,
        user.email,
        "wrong-password-5",
        request_id=request_id,
        headers={"X-Forwarded-For": "203.0.113.9"},
    )

    assert_error(failed, 401, "invalid_credentials")
    entry = the_one(await stored(sessionmaker), AuditEvent.LOGIN_FAILURE, request_id)
    assert entry.ip == LOCAL_IP


# --- GET /admin/audit ---------------------------------------------------------------------


async def test_admin_audit_requires_credentials(client: AsyncClient) -> None:
    assert_error(await client.get(ADMIN_AUDIT), 401, "not_authenticated")


async def test_admin_audit_is_forbidden_to_a_regular_user(
    client: AsyncClient, make: DomainFactory
) -> None:
    user = await make()
    assert_error(await client.get(ADMIN_AUDIT, headers=make.headers(user)), 403, "forbidden")


async def test_admin_audit_refuses_an_admin_api_key_without_users_read(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin = await make.admin()
    headers = make.headers(admin)
    keys = {}
    for scopes in (["projects:read", "tasks:read"], ["users:read"]):
        created = await client.post(
            f"{API}/api-keys", json={"name": "k", "scopes": scopes}, headers=headers
        )
        assert created.status_code == 201, created.text
        keys[scopes[0]] = created.json()["key"]

    refused = await client.get(ADMIN_AUDIT, headers={"X-API-Key": keys["projects:read"]})
    allowed = await client.get(ADMIN_AUDIT, headers={"X-API-Key": keys["users:read"]})

    assert_error(refused, 403, "insufficient_scope")
    assert allowed.status_code == 200, allowed.text


async def test_admin_audit_lists_entries_newest_first_with_every_field(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, user = await make.admin(), await make()
    # Written out of time order, so an order by id would not pass for newest first.
    order = {2: new_request_id(), 3: new_request_id(), 1: new_request_id()}
    for days, request_id in order.items():
        with at(days_ago(days)):
            assert (await login(client, user.email, request_id=request_id)).status_code == 200

    body, response = await listed(client, ADMIN_AUDIT, make.headers(admin))

    assert response.headers["X-Total-Count"] == "3"
    assert [entry["request_id"] for entry in body] == [order[1], order[2], order[3]]
    times = [datetime.fromisoformat(entry["created_at"]) for entry in body]
    assert times == sorted(times, reverse=True)
    assert all(set(entry) == ENTRY_FIELDS for entry in body)
    assert body[0]["event"] == "login_success"
    assert body[0]["actor_id"] == user.id
    assert body[0]["subject_user_id"] == user.id
    assert body[0]["ip"] == LOCAL_IP
    assert body[0]["details"] == {}


async def test_admin_audit_user_filter_matches_entries_by_or_about_the_user(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, alice, bob = await make.admin(), await make(), await make()
    admin_headers = make.headers(admin)
    promoted = await client.patch(
        f"{API}/users/{alice.id}", json={"role": "admin"}, headers=admin_headers
    )
    assert promoted.status_code == 200, promoted.text  # by admin, about alice
    await logged_in(client, alice)  # by and about alice
    await logged_in(client, bob)  # bob only
    assert (await login(client, unique_email("none"), "nope-nope-1")).status_code == 401

    everything, _ = await listed(client, ADMIN_AUDIT, admin_headers)
    of_alice, alice_response = await listed(client, ADMIN_AUDIT, admin_headers, user_id=alice.id)
    of_admin, _ = await listed(client, ADMIN_AUDIT, admin_headers, user_id=admin.id)
    of_bob, _ = await listed(client, ADMIN_AUDIT, admin_headers, user_id=bob.id)

    assert len(everything) == 4
    assert [e["event"] for e in of_alice] == ["login_success", "role_changed"]
    assert all(alice.id in (e["actor_id"], e["subject_user_id"]) for e in of_alice)
    assert alice_response.headers["X-Total-Count"] == "2"
    assert [(e["event"], e["actor_id"], e["subject_user_id"]) for e in of_admin] == [
        ("role_changed", admin.id, alice.id)
    ]
    assert [(e["event"], e["subject_user_id"]) for e in of_bob] == [("login_success", bob.id)]


async def test_admin_audit_event_filter_returns_only_that_event(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, user = await make.admin(), await make()
    await logged_in(client, user)
    for _ in range(2):
        assert (await login(client, user.email, "wrong-password-8")).status_code == 401

    body, response = await listed(client, ADMIN_AUDIT, make.headers(admin), event="login_failure")

    assert response.headers["X-Total-Count"] == "2"
    assert [entry["event"] for entry in body] == ["login_failure", "login_failure"]
    assert all(entry["details"] == {"reason": "wrong_password"} for entry in body)


async def test_admin_audit_rejects_an_unknown_event_with_422(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin = await make.admin()
    response = await client.get(
        ADMIN_AUDIT, params={"event": "password_stolen"}, headers=make.headers(admin)
    )
    assert_error(response, 422, "validation_error")


async def test_admin_audit_since_is_inclusive_and_until_exclusive(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, user = await make.admin(), await make()
    for days in (3, 2, 1):
        with at(days_ago(days)):
            await logged_in(client, user)
    headers = make.headers(admin)
    everything, _ = await listed(client, ADMIN_AUDIT, headers)
    newest, middle, oldest = everything
    middle_at = datetime.fromisoformat(middle["created_at"])
    newest_at = datetime.fromisoformat(newest["created_at"])

    since, since_response = await listed(client, ADMIN_AUDIT, headers, since=middle_at.isoformat())
    until, _ = await listed(client, ADMIN_AUDIT, headers, until=newest_at.isoformat())
    between, _ = await listed(
        client, ADMIN_AUDIT, headers, since=middle_at.isoformat(), until=newest_at.isoformat()
    )

    assert [e["id"] for e in since] == [newest["id"], middle["id"]]
    assert since_response.headers["X-Total-Count"] == "2"
    assert [e["id"] for e in until] == [middle["id"], oldest["id"]]
    assert [e["id"] for e in between] == [middle["id"]]


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+00:01"])
async def test_admin_audit_refuses_times_outside_the_calendar_in_utc(
    client: AsyncClient, make: DomainFactory, name: str, value: str
) -> None:
    admin = await make.admin()

    response = await client.get(ADMIN_AUDIT, params={name: value}, headers=make.headers(admin))

    assert_error(response, 422, "validation_error")
    assert response.json()["detail"][0]["loc"] == ["query", name]


async def test_admin_audit_takes_the_first_and_last_instants_of_the_calendar(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin = await make.admin()
    await logged_in(client, await make())
    headers = make.headers(admin)

    everything, _ = await listed(
        client, ADMIN_AUDIT, headers, since="0001-01-01T00:00:00Z", until="9999-12-31T23:59:59Z"
    )
    nothing, _ = await listed(client, ADMIN_AUDIT, headers, since="9999-12-31T23:59:59Z")

    assert len(everything) == 1
    assert nothing == []


async def test_admin_audit_time_filters_read_offsets_and_refuse_naive_times(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, user = await make.admin(), await make()
    for days in (2, 1):
        with at(days_ago(days)):
            await logged_in(client, user)
    headers = make.headers(admin)
    newest, _ = (await listed(client, ADMIN_AUDIT, headers))[0]
    newest_at = datetime.fromisoformat(newest["created_at"]).astimezone(UTC)

    in_plus_two = newest_at.astimezone(timezone(timedelta(hours=2))).isoformat()
    naive_utc = newest_at.replace(tzinfo=None).isoformat()
    with_offset, _ = await listed(client, ADMIN_AUDIT, headers, since=in_plus_two)
    naive = await client.get(ADMIN_AUDIT, params={"since": naive_utc}, headers=headers)

    assert [e["id"] for e in with_offset] == [newest["id"]]
    assert naive.status_code == 422
    assert naive.json()["detail"][0]["loc"] == ["query", "since"]


async def test_admin_audit_pages_with_total_count_and_link_headers(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin = await make.admin()
    for days in range(5, 0, -1):
        with at(days_ago(days)):
            assert (await login(client, unique_email("stranger"), "pass-4")).status_code == 401
    headers = make.headers(admin)
    everything, _ = await listed(client, ADMIN_AUDIT, headers)
    assert len(everything) == 5

    first, first_response = await listed(client, ADMIN_AUDIT, headers, limit=2)
    second, second_response = await listed(client, ADMIN_AUDIT, headers, skip=2, limit=2)
    last, last_response = await listed(client, ADMIN_AUDIT, headers, skip=4, limit=2)

    assert [e["id"] for e in first + second + last] == [e["id"] for e in everything]
    for response in (first_response, second_response, last_response):
        assert response.headers["X-Total-Count"] == "5"
    assert links(first_response) == {"next": {"skip": ["2"], "limit": ["2"]}}
    assert links(second_response) == {
        "next": {"skip": ["4"], "limit": ["2"]},
        "prev": {"skip": ["0"], "limit": ["2"]},
    }
    assert links(last_response) == {"prev": {"skip": ["2"], "limit": ["2"]}}


async def test_admin_audit_paging_keeps_the_filters_in_the_links(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, user, other = await make.admin(), await make(), await make()
    for _ in range(3):
        await logged_in(client, user)
    await logged_in(client, other)

    body, response = await listed(
        client, ADMIN_AUDIT, make.headers(admin), user_id=user.id, event="login_success", limit=2
    )

    assert len(body) == 2
    assert response.headers["X-Total-Count"] == "3"
    assert links(response)["next"] == {
        "user_id": [str(user.id)],
        "event": ["login_success"],
        "skip": ["2"],
        "limit": ["2"],
    }


# --- GET /users/me/audit ------------------------------------------------------------------


async def test_my_audit_requires_credentials(client: AsyncClient) -> None:
    assert_error(await client.get(MY_AUDIT), 401, "not_authenticated")


async def test_my_audit_shows_only_the_callers_own_events_newest_first(
    client: AsyncClient, make: DomainFactory
) -> None:
    admin, alice, bob = await make.admin(), await make(), await make()
    # Alice's events, written out of time order.
    with at(days_ago(2)):
        alice_login = new_request_id()
        assert (await login(client, alice.email, request_id=alice_login)).status_code == 200
    with at(days_ago(3)):
        alice_key = new_request_id()
        created = await client.post(
            f"{API}/api-keys",
            json={"name": "mine", "scopes": ["tasks:read"]},
            headers=traced(alice_key, make.headers(alice)),
        )
        assert created.status_code == 201, created.text
    with at(days_ago(1)):
        alice_promoted = new_request_id()
        promoted = await client.patch(
            f"{API}/users/{alice.id}",
            json={"role": "admin"},
            headers=traced(alice_promoted, make.headers(admin)),
        )
        assert promoted.status_code == 200, promoted.text
    # Everyone else's.
    await logged_in(client, bob)
    assert (await login(client, bob.email, "wrong-password-6")).status_code == 401
    assert (await login(client, unique_email("anon"), "wrong-password-7")).status_code == 401

    mine, response = await listed(client, MY_AUDIT, make.headers(alice))
    bobs, _ = await listed(client, MY_AUDIT, make.headers(bob))

    assert [e["request_id"] for e in mine] == [alice_promoted, alice_login, alice_key]
    assert [e["event"] for e in mine] == ["role_changed", "login_success", "api_key_created"]
    assert response.headers["X-Total-Count"] == "3"
    assert all(alice.id in (e["actor_id"], e["subject_user_id"]) for e in mine)
    assert [e["event"] for e in bobs] == ["login_failure", "login_success"]
    assert all(e["subject_user_id"] == bob.id for e in bobs)
    assert not {e["id"] for e in mine} & {e["id"] for e in bobs}


async def test_my_audit_ignores_a_user_id_for_someone_else(
    client: AsyncClient, make: DomainFactory
) -> None:
    alice, bob = await make(), await make()
    await logged_in(client, bob)

    body, response = await listed(client, MY_AUDIT, make.headers(alice), user_id=bob.id)

    assert body == []
    assert response.headers["X-Total-Count"] == "0"


# --- nothing secret anywhere --------------------------------------------------------------


async def test_no_entry_of_a_whole_account_lifecycle_holds_a_secret(
    client: AsyncClient, make: DomainFactory, sessionmaker: Sessions, mailbox: Mailbox
) -> None:
    user = await make(is_verified=False)
    tokens = await logged_in(client, user)
    headers = bearer(tokens["access_token"])
    assert (
        await client.post(f"{API}/auth/verify-email/resend", headers=headers)
    ).status_code == 204
    verify_token = mailbox.last_to(user.email).link_token("verify-email")
    assert (
        await client.post(f"{API}/auth/verify-email", json={"token": verify_token})
    ).status_code == 204
    rotated = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert rotated.status_code == 200
    reused = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert reused.status_code == 401
    key = await client.post(
        f"{API}/api-keys", json={"name": "k", "scopes": ["users:read"]}, headers=headers
    )
    assert key.status_code == 201
    api_key = key.json()["key"]
    assert (
        await client.delete(f"{API}/api-keys/{key.json()['id']}", headers=headers)
    ).status_code == 204
    assert (
        await client.post(f"{API}/auth/password-reset", json={"email": user.email})
    ).status_code == 202
    reset_token = mailbox.last_to(user.email).link_token("reset-password")
    confirmed = await client.post(
        f"{API}/auth/password-reset/confirm",
        json={"token": reset_token, "new_password": NEW_PASSWORD},
    )
    assert confirmed.status_code == 204
    assert (await login(client, user.email, "typo-password-2")).status_code == 401
    final = await login(client, user.email, NEW_PASSWORD)
    assert final.status_code == 200
    changed = await client.post(
        f"{API}/auth/change-password",
        json={"current_password": NEW_PASSWORD, "new_password": "third-password-3"},
        headers=bearer(final.json()["access_token"]),
    )
    assert changed.status_code == 204
    out = await client.post(
        f"{API}/auth/logout", json={"refresh_token": final.json()["refresh_token"]}
    )
    assert out.status_code == 204

    entries = await stored(sessionmaker)
    assert {e.event for e in entries} >= {
        "login_success",
        "login_failure",
        "email_verified",
        "token_refresh",
        "token_reuse_detected",
        "api_key_created",
        "api_key_revoked",
        "password_reset_requested",
        "password_reset_completed",
        "password_changed",
        "logout",
    }
    assert_no_secrets(
        entries,
        DEFAULT_PASSWORD,
        NEW_PASSWORD,
        "third-password-3",
        "typo-password-2",
        tokens["access_token"],
        tokens["refresh_token"],
        rotated.json()["refresh_token"],
        final.json()["refresh_token"],
        verify_token,
        reset_token,
        api_key,
    )
