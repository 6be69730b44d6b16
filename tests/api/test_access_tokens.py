"""Access tokens: their lifetime and every way a forged or broken one is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import time_machine
from httpx import AsyncClient

from taskflow.config import Settings
from tests.factories import UserFactory
from tests.support.api import (
    assert_error,
    bearer,
    later,
    login_ok,
    me,
)

# --- access tokens ------------------------------------------------------------------------


async def test_access_token_works_until_it_expires(
    client: AsyncClient, users: UserFactory, settings: Settings
) -> None:
    user = await users()
    headers = bearer((await login_ok(client, user.email))["access_token"])
    minutes = settings.access_token_expire_minutes

    with time_machine.travel(later(minutes=minutes - 1), tick=True):
        assert (await me(client, headers)).status_code == 200
    with time_machine.travel(later(minutes=minutes, seconds=30), tick=True):
        assert_error(await me(client, headers), 401, "invalid_token")


def access_claims(user_id: int, settings: Settings, **changes: Any) -> dict[str, Any]:
    """The claims login puts in an access token; a change of None drops the claim."""
    issued = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "iat": issued,
        "exp": issued + timedelta(minutes=5),
        "jti": uuid.uuid4().hex,
        "type": "access",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    return claims


async def test_a_token_forged_with_the_right_key_and_claims_is_accepted(
    client: AsyncClient, users: UserFactory, settings: Settings
) -> None:
    """The control for the forgery tests below: their tokens differ from this one in one way."""
    user = await users()
    token = jwt.encode(access_claims(user.id, settings), settings.jwt_secret, algorithm="HS256")

    response = await me(client, bearer(token))

    assert response.status_code == 200, response.text
    assert response.json()["id"] == user.id


async def test_a_token_signed_with_another_key_is_401(
    client: AsyncClient, users: UserFactory, settings: Settings
) -> None:
    user = await users()
    other_key = "another-secret-key-that-is-long-enough-for-hs256-987654"
    token = jwt.encode(access_claims(user.id, settings), other_key, algorithm="HS256")

    assert_error(await me(client, bearer(token)), 401, "invalid_token")


async def test_a_token_with_alg_none_is_401(
    client: AsyncClient, users: UserFactory, settings: Settings
) -> None:
    user = await users()
    token = jwt.encode(access_claims(user.id, settings), None, algorithm="none")
    assert jwt.get_unverified_header(token)["alg"] == "none"

    assert_error(await me(client, bearer(token)), 401, "invalid_token")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_a_token_signed_with_another_hmac_algorithm_is_401(
    client: AsyncClient, users: UserFactory, settings: Settings
) -> None:
    user = await users()
    token = jwt.encode(access_claims(user.id, settings), settings.jwt_secret, algorithm="HS512")

    assert_error(await me(client, bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize("claim", ["sub", "exp", "iat", "jti", "type", "iss", "aud"])
async def test_a_token_missing_a_required_claim_is_401(
    client: AsyncClient, users: UserFactory, settings: Settings, claim: str
) -> None:
    user = await users()
    claims = access_claims(user.id, settings, **{claim: None})
    token = jwt.encode(claims, settings.jwt_secret, algorithm="HS256")

    assert_error(await me(client, bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"iss": "someone-else"}, id="wrong-issuer"),
        pytest.param({"aud": "another-api"}, id="wrong-audience"),
        pytest.param({"type": "refresh"}, id="wrong-type"),
        pytest.param({"sub": "not-a-number"}, id="non-numeric-subject"),
        pytest.param({"sub": "999999999"}, id="unknown-user"),
    ],
)
async def test_a_token_with_a_wrong_claim_is_401(
    client: AsyncClient, users: UserFactory, settings: Settings, changes: dict[str, str]
) -> None:
    user = await users()
    token = jwt.encode(access_claims(user.id, settings, **changes), settings.jwt_secret)

    assert_error(await me(client, bearer(token)), 401, "invalid_token")


async def test_a_garbage_bearer_token_is_401(client: AsyncClient) -> None:
    assert_error(await me(client, bearer("not.a.jwt")), 401, "invalid_token")


async def test_a_missing_token_is_401(client: AsyncClient) -> None:
    assert_error(await me(client, {}), 401, "not_authenticated")
