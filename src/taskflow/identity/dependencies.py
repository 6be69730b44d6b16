"""Authentication (who is calling) and the per-route authorization of its credential."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from taskflow.core import security
from taskflow.core.cache import Cache
from taskflow.core.cached_reads import read_key, remember_lookup
from taskflow.core.db import request_session
from taskflow.core.errors import Unauthorized
from taskflow.core.openapi import SecurityDoc
from taskflow.core.ratelimit import Quota, RateLimiter, WindowHit, apply_quota, enforce
from taskflow.identity import credentials, policy
from taskflow.identity.principal import (
    Principal,
    Scope,
    principal_from_snapshot,
    principal_snapshot,
)

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    description="Access token from POST /api/v1/auth/login or /api/v1/auth/token",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API key from POST /api/v1/api-keys"
)


async def get_principal(request: Request) -> Principal:
    """Who is calling, then count the call against the caller's rate limit.

    On GET the principal comes from Redis when it can, with the cached answer of the route
    and (for an access token, whose user is known before the lookup) the count against the
    rate limit, all in one round trip; a cache hit touches no database at all. Other
    methods load the user from the database: a write may change the account itself, or
    use its user as an object of the request's session.
    """
    return await _authenticate(request, from_cache=request.method == "GET")


async def get_principal_from_cache(request: Request) -> Principal:
    """As get_principal, with the cached principal on every method: for routes whose writes
    use the caller's id, name, role and scopes only, never its user row (the tasks).

    The cached principal is retired whenever the account changes (see Cache.auth_generation),
    so a write sees a deactivation or a demotion as a read does.
    """
    return await _authenticate(request, from_cache=True)


def authenticates(call: object) -> bool:
    """Whether a route dependency authenticates the caller (for the OpenAPI document)."""
    return call in (get_principal, get_principal_from_cache) or isinstance(call, Authorize)


# Each route names its credentials in the OpenAPI document; see core.openapi.SecurityDoc.
OPENAPI_SECURITY = SecurityDoc(schemes=(oauth2_scheme, api_key_scheme), authenticates=authenticates)
# Principals already found for this request, by whether the cache could serve them.
_PRINCIPALS = "taskflow.principals"


async def _authenticate(request: Request, *, from_cache: bool) -> Principal:
    """The principal, found and counted once per request: a route's dependencies may each
    ask for it (FastAPI would share one dependency's answer, but authentication runs as a
    plain call, without a dependency per credential header)."""
    found: dict[bool, Principal] = request.scope.setdefault(_PRINCIPALS, {})
    principal = found.get(from_cache)
    if principal is None:
        principal = found[from_cache] = await _find_principal(request, from_cache=from_cache)
    return principal


async def _find_principal(request: Request, *, from_cache: bool) -> Principal:
    # The schemes read the headers as their FastAPI dependencies would.
    bearer_token = await oauth2_scheme(request)
    api_key = await api_key_scheme(request)
    state = request.app.state  # read directly: each dependency costs every request
    cache: Cache | None = state.cache
    limiter: RateLimiter = state.rate_limiter
    if bearer_token:
        credential = _Credential.for_user(
            credentials.user_id_from_access_token(settings=state.settings, token=bearer_token)
        )
    elif api_key:
        credential = _Credential.for_key(security.hash_token(api_key))
    else:
        raise Unauthorized()
    principal = None
    quota = None
    if cache is not None and from_cache:
        hit = (
            limiter.shared_hit(_DEFAULT_LIMIT, _limit_identity(user_id=credential.user_id))
            if credential.user_id is not None
            else None
        )
        principal, quota = await _from_cache(request, cache, credential, hit)
    if principal is None:
        principal = await _from_database(
            await request_session(request), cache if from_cache else None, credential
        )
    if quota is None:
        quota = await limiter.hit(
            _DEFAULT_LIMIT,
            _limit_identity(user_id=principal.user.id, api_key_id=principal.api_key_id),
        )
    apply_quota(quota, _DEFAULT_LIMIT, request.state)
    request.state.user_id = principal.user.id
    return principal


_DEFAULT_LIMIT = "default"


def _limit_identity(*, user_id: int, api_key_id: int | None = None) -> str:
    """Whose rate limit a request counts against: each API key has its own."""
    return f"key:{api_key_id}" if api_key_id else f"user:{user_id}"


@dataclass(frozen=True, slots=True)
class _Credential:
    cache_key: str
    caller: str  # whose cached answers these are
    user_id: int | None = None
    key_hash: str | None = None

    @classmethod
    def for_user(cls, user_id: int) -> _Credential:
        return cls(cache_key=f"p:u:{user_id}", caller=f"u{user_id}", user_id=user_id)

    @classmethod
    def for_key(cls, key_hash: str) -> _Credential:
        return cls(cache_key=f"p:k:{key_hash}", caller=f"k{key_hash[:32]}", key_hash=key_hash)


async def _from_cache(
    request: Request, cache: Cache, credential: _Credential, hit: WindowHit | None
) -> tuple[Principal | None, Quota | None]:
    """The cached principal (and the route's cached answer, kept on the request), counting
    `hit` against its rate limit in the same round trip. The quota is None when nothing was
    counted (no hit, or Redis failed)."""
    answer_key = read_key(cache, request, credential.caller)
    principal_key = cache.key(credential.cache_key)
    keys = [principal_key] if answer_key is None else [principal_key, answer_key]
    if hit is None:
        quota, values = None, await cache.fetch(keys)
    else:
        quota, values = await cache.count_and_fetch(hit, keys)
    if answer_key is not None:
        remember_lookup(request, answer_key, values[1])
    if values[0] is None:
        return None, quota
    principal = principal_from_snapshot(values[0])
    if credential.key_hash is not None:
        credentials.ensure_key_usable(principal)
    return principal, quota


async def _from_database(
    session: AsyncSession, cache: Cache | None, credential: _Credential
) -> Principal:
    """Load the principal; with a cache, also cache it, under the counters read before
    loading."""
    if credential.key_hash is not None:
        user_id = await credentials.owner_of_key(session=session, key_hash=credential.key_hash)
    else:
        assert credential.user_id is not None  # noqa: S101 - a credential is a user or a key
        user_id = credential.user_id
    generations = await cache.generations([cache.auth_generation(user_id)]) if cache else None
    if credential.key_hash is not None:
        principal = await credentials.principal_from_key(
            session=session, key_hash=credential.key_hash
        )
    else:
        principal = await credentials.principal_for_user(session=session, user_id=user_id)
    if cache is not None and generations is not None:
        await cache.store(
            cache.key(credential.cache_key), principal_snapshot(principal), generations
        )
    return principal


class Authorize:
    """A dependency that authenticates and then checks what the credential may do."""

    def __init__(
        self, scope: Scope | None = None, *, session_only: bool = False, admin_only: bool = False
    ) -> None:
        self.scope = scope
        self.session_only = session_only
        self.admin_only = admin_only

    async def __call__(self, request: Request) -> Principal:
        return self.allowed(await get_principal(request))

    def allowed(self, principal: Principal) -> Principal:
        policy.ensure_allowed(
            principal, scope=self.scope, session_only=self.session_only, admin_only=self.admin_only
        )
        return principal


class AuthorizeFromCache(Authorize):
    """Authorize, authenticating with get_principal_from_cache."""

    async def __call__(self, request: Request) -> Principal:
        return self.allowed(await get_principal_from_cache(request))


def authorized(
    scope: Scope | None = None,
    *,
    session_only: bool = False,
    admin_only: bool = False,
    from_cache: bool = False,
) -> Any:
    """`principal: Annotated[Principal, authorized(Scope.USERS_READ)]` in a route;
    `from_cache=True` where get_principal_from_cache may serve (see there)."""
    kind = AuthorizeFromCache if from_cache else Authorize
    return Depends(kind(scope, session_only=session_only, admin_only=admin_only))


def limited_per_ip(limit: str) -> Any:
    """A route dependency counting each call against the named limit of the client's address."""

    async def count_call(request: Request) -> None:
        client = getattr(request.state, "client_ip", None) or "unknown"
        await enforce(request.app.state.rate_limiter, limit, f"ip:{client}", request.state)

    return Depends(count_call)
