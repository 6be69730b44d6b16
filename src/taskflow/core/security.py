"""Password hashing off the event loop, JWT access tokens, and hashing of opaque tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from taskflow.core import clock

JWT_ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret
_REQUIRED_CLAIMS = ["sub", "exp", "iat", "jti", "type", "iss", "aud"]
# How far in the future a token's issue time may lie: the clocks of the hosts that issue
# and check tokens differ a little, and a token is stamped to the second.
ISSUED_AT_SKEW = timedelta(seconds=30)

# Argon2id with OWASP's recommended parameters: 19 MiB, 2 iterations, 1 lane.
password_hash = PasswordHash((Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1),))


class PasswordHasher:
    """Hashes and verifies in worker threads, at most `concurrency` at a time.

    Argon2 is CPU and memory heavy; running it on the event loop would stall every other
    request, and running unbounded numbers of it at once would exhaust the CPU and memory.
    """

    # One dummy hash per process, made on first use.
    _dummy_hash: str | None = None

    def __init__(self, concurrency: int) -> None:
        self._limiter = anyio.CapacityLimiter(concurrency)

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(password_hash.hash, password, limiter=self._limiter)

    async def verify(self, password: str, hashed: str) -> bool:
        return await anyio.to_thread.run_sync(
            password_hash.verify, password, hashed, limiter=self._limiter
        )

    async def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        return await anyio.to_thread.run_sync(
            password_hash.verify_and_update, password, hashed, limiter=self._limiter
        )

    async def burn_time(self, password: str) -> None:
        """Verify against a dummy hash so an unknown account costs what a known one does."""
        if PasswordHasher._dummy_hash is None:
            PasswordHasher._dummy_hash = await self.hash(secrets.token_urlsafe(16))
        await self.verify(password, PasswordHasher._dummy_hash)


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    jti: str


class InvalidTokenError(Exception):
    """The token is malformed, expired, signed with another key or of the wrong type."""


def create_access_token(
    *, user_id: int, secret: str, issuer: str, audience: str, lifetime: timedelta
) -> AccessToken:
    issued = clock.now()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "iat": issued,
        "exp": issued + lifetime,
        "jti": uuid.uuid4().hex,
        "type": ACCESS_TOKEN_TYPE,
        "iss": issuer,
        "aud": audience,
    }
    token = jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)
    return AccessToken(token=token, expires_in=int(lifetime.total_seconds()))


# Tokens whose signature and claims were checked, with their expiry: a client sends the same
# token with every request, and checking its HMAC and claims again each time is a tenth of
# the work of a small request. Bounded; expiry is checked on every use.
_VERIFIED_LIMIT = 8192
_verified: OrderedDict[tuple[str, str, str, str], tuple[AccessClaims, datetime]] = OrderedDict()


def decode_access_token(token: str, *, secret: str, issuer: str, audience: str) -> AccessClaims:
    key = (token, secret, issuer, audience)
    known = _verified.get(key)
    if known is not None:
        claims, expires_at = known
        if clock.now() < expires_at:
            _verified.move_to_end(key)
            return claims
        del _verified[key]
        raise InvalidTokenError("Signature has expired")
    claims, expires_at = _decode_access_token(
        token, secret=secret, issuer=issuer, audience=audience
    )
    _verified[key] = (claims, expires_at)
    while len(_verified) > _VERIFIED_LIMIT:
        _verified.popitem(last=False)
    return claims


def _decode_access_token(
    token: str, *, secret: str, issuer: str, audience: str
) -> tuple[AccessClaims, datetime]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            issuer=issuer,
            audience=audience,
            # iat is checked below, with the allowed skew (PyJWT allows none).
            options={"require": _REQUIRED_CLAIMS, "verify_iat": False},
        )
    except jwt.PyJWTError as error:
        raise InvalidTokenError(str(error)) from None
    issued_at = claims["iat"]
    if type(issued_at) not in (int, float):
        raise InvalidTokenError("Issued At claim (iat) must be a number")
    if issued_at > (clock.now() + ISSUED_AT_SKEW).timestamp():
        raise InvalidTokenError("The token is not yet valid (iat)")
    if claims.get("type") != ACCESS_TOKEN_TYPE:
        raise InvalidTokenError("not an access token")
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject.isdigit():
        raise InvalidTokenError("bad subject")
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    return AccessClaims(user_id=int(subject), jti=str(claims["jti"])), expires_at


def new_opaque_token(prefix: str = "") -> str:
    """A URL-safe random token with 256 bits of entropy."""
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 of a high-entropy token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()
