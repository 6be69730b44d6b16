"""The audit entries of password, email and account changes, API keys and projects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from httpx import AsyncClient, Response

from taskflow.audit.models import AuditEvent
from taskflow.users.models import User
from tests.factories import DEFAULT_PASSWORD, DomainFactory, unique_email
from tests.support.api import API, Sessions
from tests.support.audit import (
    LOCAL_IP,
    NEW_PASSWORD,
    assert_entry,
    assert_no_secrets,
    new_request_id,
    of_request,
    stored,
    the_one,
    traced,
)
from tests.support.mailbox import Mailbox

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
