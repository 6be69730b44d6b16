"""What API tests do and check again and again: the error envelope, ETags and If-Match,
logging in and the other auth flows, bearer and API key headers, Link headers, validation
errors, stored users and the structured log events of a request."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.users.models import User
from tests.factories import DEFAULT_PASSWORD

API = "/api/v1"
AUTH = f"{API}/auth"
ERROR_FIELDS = {"detail", "error", "request_id"}
_LINK = re.compile(r'<(?P<url>[^>]+)>;\s*rel="(?P<rel>[a-z]+)"')
USER_FIELDS = {
    "id",
    "email",
    "full_name",
    "role",
    "is_active",
    "is_verified",
    "created_at",
    "updated_at",
}
ME = f"{API}/users/me"
NEW_PASSWORD = "brand-new-pass-42"
RESET_ACCEPTED = "If an active account has this email, a reset link was sent to it."

Sessions = async_sessionmaker[AsyncSession]


# --- errors -------------------------------------------------------------------------------


def assert_error(response: Response, status: int, error: str) -> dict[str, Any]:
    """The response is the error envelope with this status and code; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_FIELDS, body
    assert body["error"] == error, body
    assert body["request_id"] == response.headers["X-Request-ID"]
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    return body


def error_locs(response: Response) -> list[list[Any]]:
    """The field locations a 422 validation error names."""
    body = assert_error(response, 422, "validation_error")
    return [item["loc"] for item in body["detail"]]


# --- ETags and If-Match -------------------------------------------------------------------


def if_match(headers: dict[str, str], tag: str) -> dict[str, str]:
    """The headers, with If-Match: `tag`."""
    return {**headers, "If-Match": tag}


def etag_of(response: Response, status: int) -> str:
    """The response has this status; returns its ETag."""
    assert response.status_code == status, response.text
    return response.headers["ETag"]


async def patch_and_delete(
    client: AsyncClient, url: str, headers: dict[str, str], change: dict[str, Any]
) -> list[Response]:
    """A PATCH of `url` with `change`, then a DELETE of it, both with these headers."""
    return [
        await client.patch(url, json=change, headers=headers),
        await client.delete(url, headers=headers),
    ]


# --- credentials --------------------------------------------------------------------------


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def key_headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


async def login(
    client: AsyncClient,
    email: str,
    password: str = DEFAULT_PASSWORD,
    *,
    headers: dict[str, str] | None = None,
) -> Response:
    return await client.post(
        f"{AUTH}/login", json={"email": email, "password": password}, headers=headers
    )


async def login_ok(
    client: AsyncClient, email: str, password: str = DEFAULT_PASSWORD
) -> dict[str, Any]:
    """The token pair of a successful login."""
    response = await login(client, email, password)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def refresh(client: AsyncClient, refresh_token: str) -> Response:
    return await client.post(f"{AUTH}/refresh", json={"refresh_token": refresh_token})


async def create_key(
    client: AsyncClient, headers: dict[str, str], *scopes: str, **fields: Any
) -> dict[str, Any]:
    """A new API key of the caller with these scopes; returns the created key's body."""
    response = await client.post(
        f"{API}/api-keys",
        json={"name": fields.pop("name", "script"), "scopes": list(scopes), **fields},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def api_key(client: AsyncClient, headers: dict[str, str], *scopes: str) -> str:
    """The secret of a new API key of the caller with these scopes."""
    key: str = (await create_key(client, headers, *scopes))["key"]
    return key


async def api_key_headers(
    client: AsyncClient, headers: dict[str, str], *scopes: str
) -> dict[str, str]:
    """X-API-Key headers of a new API key of the caller with these scopes."""
    return key_headers(await api_key(client, headers, *scopes))


# --- responses and stored rows ------------------------------------------------------------


def links(response: Response) -> dict[str, str]:
    """rel -> URL of the response's Link header."""
    return {
        match["rel"]: match["url"] for match in _LINK.finditer(response.headers.get("Link", ""))
    }


def user_summary(user: User) -> dict[str, Any]:
    """How a user appears inside projects, members and tasks."""
    return {"id": user.id, "email": user.email, "full_name": user.full_name}


def parse_time(value: str) -> datetime:
    """A timestamp of a response, which always carries its offset."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


async def stored_user(sessionmaker: async_sessionmaker[AsyncSession], user_id: int) -> User:
    """The user as the database holds it now."""
    async with sessionmaker() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


# --- auth flows ---------------------------------------------------------------------------


def later(**delta: float) -> datetime:
    """A moment in the future, as a destination for time_machine.travel."""
    return datetime.now(UTC) + timedelta(**delta)


async def register(
    client: AsyncClient, email: str, password: str = DEFAULT_PASSWORD, **extra: Any
) -> Response:
    return await client.post(
        f"{AUTH}/register",
        json={"email": email, "password": password, "full_name": "Reg Istered", **extra},
    )


async def request_reset(client: AsyncClient, email: str) -> Response:
    return await client.post(f"{AUTH}/password-reset", json={"email": email})


async def confirm_reset(client: AsyncClient, token: str, new_password: str) -> Response:
    return await client.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "new_password": new_password}
    )


async def verify(client: AsyncClient, token: str) -> Response:
    return await client.post(f"{AUTH}/verify-email", json={"token": token})


async def me(client: AsyncClient, headers: dict[str, str]) -> Response:
    return await client.get(ME, headers=headers)


async def fail_logins(client: AsyncClient, email: str, count: int) -> None:
    for _ in range(count):
        assert_error(await login(client, email, "wrong-password-1"), 401, "invalid_credentials")


async def change_password(
    client: AsyncClient, headers: dict[str, str], current: str, new: str
) -> Response:
    return await client.post(
        f"{AUTH}/change-password",
        json={"current_password": current, "new_password": new},
        headers=headers,
    )


async def deactivate_in_database(sessionmaker: Sessions, user_id: int) -> None:
    """Deactivate without the API, so nothing else (such as revoking sessions) happens."""
    async with sessionmaker() as session:
        await session.execute(update(User).where(User.id == user_id).values(is_active=False))
        await session.commit()


# --- logs ---------------------------------------------------------------------------------


def event_dicts(caplog: pytest.LogCaptureFixture, logger: str) -> list[dict[str, Any]]:
    """The structlog event dicts logged through the standard library by one logger."""
    return [
        record.msg
        for record in caplog.records
        if record.name == logger and isinstance(record.msg, dict)
    ]
