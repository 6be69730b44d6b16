"""JWT access tokens, opaque token hashing and Argon2id password hashing off the event loop."""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import time_machine
from argon2 import PasswordHasher as Argon2PasswordHasher

from taskflow.core import security
from taskflow.core.security import (
    ISSUED_AT_SKEW,
    InvalidTokenError,
    PasswordHasher,
    create_access_token,
    decode_access_token,
    hash_token,
    new_opaque_token,
)

SECRET = "unit-test-secret-key-that-is-long-enough-for-hs512-signatures-0123456789abcdef"
ISSUER = "taskflow"
AUDIENCE = "taskflow-api"
LIFETIME = timedelta(minutes=15)


def decode(token: str, *, secret: str = SECRET) -> security.AccessClaims:
    return decode_access_token(token, secret=secret, issuer=ISSUER, audience=AUDIENCE)


def valid_claims(**changes: Any) -> dict[str, Any]:
    issued = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": "42",
        "iat": issued,
        "exp": issued + LIFETIME,
        "jti": uuid.uuid4().hex,
        "type": "access",
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    claims.update(changes)
    return claims


def signed(claims: dict[str, Any], *, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


# --- JWT access tokens -------------------------------------------------------------------


def test_access_token_round_trip_gives_the_user_id() -> None:
    access = create_access_token(
        user_id=42, secret=SECRET, issuer=ISSUER, audience=AUDIENCE, lifetime=LIFETIME
    )

    claims = decode(access.token)

    assert claims.user_id == 42
    assert claims.jti
    assert access.expires_in == 15 * 60


def test_access_token_is_hs256_with_every_required_claim() -> None:
    access = create_access_token(
        user_id=7, secret=SECRET, issuer=ISSUER, audience=AUDIENCE, lifetime=LIFETIME
    )

    header = jwt.get_unverified_header(access.token)
    payload = jwt.decode(access.token, options={"verify_signature": False})

    assert header["alg"] == "HS256"
    assert set(payload) >= {"sub", "exp", "iat", "jti", "type", "iss", "aud"}
    assert payload["type"] == "access"
    assert payload["exp"] - payload["iat"] == 15 * 60


def test_each_access_token_has_its_own_jti() -> None:
    tokens = [
        create_access_token(
            user_id=1, secret=SECRET, issuer=ISSUER, audience=AUDIENCE, lifetime=LIFETIME
        )
        for _ in range(20)
    ]

    assert len({decode(access.token).jti for access in tokens}) == 20


def test_access_token_is_valid_until_it_expires_and_invalid_after() -> None:
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        access = create_access_token(
            user_id=5, secret=SECRET, issuer=ISSUER, audience=AUDIENCE, lifetime=LIFETIME
        )
    with time_machine.travel(start + LIFETIME - timedelta(seconds=1), tick=False):
        assert decode(access.token).user_id == 5
    with (
        time_machine.travel(start + LIFETIME + timedelta(seconds=1), tick=False),
        pytest.raises(InvalidTokenError),
    ):
        decode(access.token)


def test_token_signed_with_another_secret_is_rejected() -> None:
    token = signed(valid_claims(), secret="another-secret-key-that-is-long-enough-0123456789")

    with pytest.raises(InvalidTokenError):
        decode(token)


def test_token_from_another_issuer_is_rejected() -> None:
    with pytest.raises(InvalidTokenError):
        decode(signed(valid_claims(iss="someone-else")))


def test_token_for_another_audience_is_rejected() -> None:
    with pytest.raises(InvalidTokenError):
        decode(signed(valid_claims(aud="another-api")))


def test_unsigned_alg_none_token_is_rejected() -> None:
    token = jwt.encode(valid_claims(), None, algorithm="none")
    assert jwt.get_unverified_header(token)["alg"] == "none"

    with pytest.raises(InvalidTokenError):
        decode(token)


def test_token_signed_with_hs512_is_rejected() -> None:
    token = signed(valid_claims(), algorithm="HS512")

    with pytest.raises(InvalidTokenError):
        decode(token)


def test_the_hand_built_valid_token_is_accepted() -> None:
    # The control for the rejection tests: the same claims, unchanged, decode fine.
    assert decode(signed(valid_claims())).user_id == 42


@pytest.mark.parametrize("claim", ["sub", "exp", "iat", "jti", "type", "iss", "aud"])
def test_token_missing_a_required_claim_is_rejected(claim: str) -> None:
    claims = valid_claims()
    del claims[claim]

    with pytest.raises(InvalidTokenError):
        decode(signed(claims))


@pytest.mark.parametrize("token_type", ["refresh", "reset", "", "ACCESS"])
def test_token_of_another_type_is_rejected(token_type: str) -> None:
    with pytest.raises(InvalidTokenError):
        decode(signed(valid_claims(type=token_type)))


@pytest.mark.parametrize("subject", ["abc", "-1", "1.5", " 42", ""])
def test_token_with_a_non_numeric_subject_is_rejected(subject: str) -> None:
    with pytest.raises(InvalidTokenError):
        decode(signed(valid_claims(sub=subject)))


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c", "Bearer x.y.z"])
def test_malformed_token_is_rejected(garbage: str) -> None:
    with pytest.raises(InvalidTokenError):
        decode(garbage)


def test_token_issued_in_the_future_is_rejected() -> None:
    issued = datetime.now(UTC) + timedelta(hours=1)
    claims = valid_claims(iat=issued, exp=issued + LIFETIME)

    with pytest.raises(InvalidTokenError):
        decode(signed(claims))


@pytest.mark.parametrize(
    ("ahead", "accepted"),
    [(timedelta(seconds=1), True), (ISSUED_AT_SKEW, True), (ISSUED_AT_SKEW * 2, False)],
)
def test_a_token_issued_by_a_clock_slightly_ahead_is_accepted(
    ahead: timedelta, accepted: bool
) -> None:
    # Another host's clock may run a little ahead of this one's.
    now = datetime.now(UTC).replace(microsecond=0)
    claims = valid_claims(iat=now + ahead, exp=now + LIFETIME)

    with time_machine.travel(now, tick=False):
        if accepted:
            assert decode(signed(claims)).user_id == int(claims["sub"])
        else:
            with pytest.raises(InvalidTokenError):
                decode(signed(claims))


def test_a_token_whose_issue_time_is_not_a_number_is_rejected() -> None:
    with pytest.raises(InvalidTokenError):
        decode(signed(valid_claims(iat="yesterday")))


def test_a_verified_token_is_remembered_and_not_verified_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = signed(valid_claims(sub="7"))
    calls: list[str] = []
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)

    assert [decode(token).user_id for _ in range(3)] == [7, 7, 7]
    assert calls == [token]


def test_a_remembered_token_is_still_refused_under_another_key_issuer_or_audience() -> None:
    token = signed(valid_claims())
    assert decode(token).user_id == 42

    with pytest.raises(InvalidTokenError):
        decode(token, secret="another-secret-key-that-is-long-enough-0123456789")
    with pytest.raises(InvalidTokenError):
        decode_access_token(token, secret=SECRET, issuer="someone-else", audience=AUDIENCE)
    with pytest.raises(InvalidTokenError):
        decode_access_token(token, secret=SECRET, issuer=ISSUER, audience="another-api")


def test_a_remembered_token_stops_working_when_it_expires() -> None:
    start = datetime(2031, 1, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        token = signed(valid_claims(iat=start, exp=start + LIFETIME))
        assert decode(token).user_id == 42
    with (
        time_machine.travel(start + LIFETIME, tick=False),
        pytest.raises(InvalidTokenError, match="expired"),
    ):
        decode(token)


def test_the_memory_of_verified_tokens_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "_VERIFIED_LIMIT", 5)
    tokens = [signed(valid_claims(sub=str(n))) for n in range(1, 9)]

    assert [decode(token).user_id for token in tokens] == list(range(1, 9))
    assert len(security._verified) <= 5


# --- opaque tokens -----------------------------------------------------------------------


def test_hash_token_is_the_sha256_hex_digest() -> None:
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    token = new_opaque_token()
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()


def test_hash_token_is_deterministic_and_distinguishes_tokens() -> None:
    token = new_opaque_token()

    assert hash_token(token) == hash_token(token)
    assert hash_token(token) != hash_token(token + "x")
    assert re.fullmatch(r"[0-9a-f]{64}", hash_token(token))


def test_new_opaque_token_is_url_safe_with_256_bits() -> None:
    token = new_opaque_token()

    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)


def test_new_opaque_token_keeps_its_prefix() -> None:
    token = new_opaque_token("tfk_")

    assert token.startswith("tfk_")
    assert re.fullmatch(r"tfk_[A-Za-z0-9_-]{43}", token)


def test_new_opaque_tokens_are_unique() -> None:
    assert len({new_opaque_token() for _ in range(1000)}) == 1000


# --- password hashing --------------------------------------------------------------------


async def test_password_hash_is_argon2id_with_owasp_parameters() -> None:
    hashed = await PasswordHasher(1).hash("secret123")

    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "secret123" not in hashed


async def test_same_password_hashes_differently_each_time() -> None:
    hasher = PasswordHasher(2)

    first, second = await asyncio.gather(hasher.hash("secret123"), hasher.hash("secret123"))

    assert first != second


async def test_correct_password_verifies() -> None:
    hasher = PasswordHasher(1)
    hashed = await hasher.hash("secret123")

    assert await hasher.verify("secret123", hashed) is True


async def test_wrong_password_does_not_verify() -> None:
    hasher = PasswordHasher(1)
    hashed = await hasher.hash("secret123")

    assert await hasher.verify("secret124", hashed) is False
    assert await hasher.verify("", hashed) is False


async def test_verify_and_update_keeps_a_current_hash() -> None:
    hasher = PasswordHasher(1)
    hashed = await hasher.hash("secret123")

    assert await hasher.verify_and_update("secret123", hashed) == (True, None)


async def test_verify_and_update_rehashes_a_weaker_hash() -> None:
    weak = Argon2PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("secret123")
    hasher = PasswordHasher(1)

    valid, updated = await hasher.verify_and_update("secret123", weak)

    assert valid is True
    assert updated is not None
    assert updated.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await hasher.verify("secret123", updated) is True


async def test_verify_and_update_rejects_a_wrong_password() -> None:
    hasher = PasswordHasher(1)
    hashed = await hasher.hash("secret123")

    assert await hasher.verify_and_update("wrong-one-1", hashed) == (False, None)


async def test_burn_time_verifies_against_an_argon2id_dummy_hash() -> None:
    hasher = PasswordHasher(1)

    await hasher.burn_time("anything-1")

    assert PasswordHasher._dummy_hash is not None
    assert PasswordHasher._dummy_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


class LoopWatcher:
    """Counts event-loop turns and samples the hasher's limiter while hashing runs."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        self.turns = 0
        self.max_borrowed = 0
        self.max_waiting = 0
        self.done = False

    async def watch(self) -> None:
        while not self.done:
            self.turns += 1
            limiter = self.hasher._limiter
            self.max_borrowed = max(self.max_borrowed, int(limiter.borrowed_tokens))
            self.max_waiting = max(self.max_waiting, limiter.statistics().tasks_waiting)
            await asyncio.sleep(0)

    async def run(self, *work: Any) -> list[Any]:
        watcher = asyncio.create_task(self.watch())
        try:
            return list(await asyncio.gather(*work))
        finally:
            self.done = True
            await watcher


async def test_hashing_runs_off_the_event_loop() -> None:
    hasher = PasswordHasher(4)
    loop_watcher = LoopWatcher(hasher)

    hashes = await loop_watcher.run(*(hasher.hash(f"password-{n}") for n in range(4)))

    assert len(set(hashes)) == 4
    # Hashing on the loop would let the watcher run at most once between hashes.
    assert loop_watcher.turns > 50


@pytest.mark.parametrize("limit", [1, 2])
async def test_concurrent_hashing_is_bounded_by_the_limit(limit: int) -> None:
    hasher = PasswordHasher(limit)
    loop_watcher = LoopWatcher(hasher)

    hashes = await loop_watcher.run(*(hasher.hash(f"password-{n}") for n in range(limit + 3)))

    assert len(hashes) == limit + 3
    assert loop_watcher.max_borrowed == limit
    assert loop_watcher.max_waiting >= 1
    assert hasher._limiter.borrowed_tokens == 0


async def test_verification_is_bounded_by_the_same_limit() -> None:
    hasher = PasswordHasher(1)
    hashed = await hasher.hash("secret123")
    loop_watcher = LoopWatcher(hasher)

    results = await loop_watcher.run(*(hasher.verify("secret123", hashed) for _ in range(4)))

    assert results == [True] * 4
    assert loop_watcher.max_borrowed == 1
    assert loop_watcher.max_waiting >= 1
