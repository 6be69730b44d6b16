"""The principal a presented credential stands for: an access token's user, or an API
key's user limited to the key's scopes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.api_keys.models import ApiKey
from taskflow.config import Settings
from taskflow.core import clock, security
from taskflow.core.errors import Unauthorized
from taskflow.identity.principal import Principal
from taskflow.users.models import User


def user_id_from_access_token(*, settings: Settings, token: str) -> int:
    """The user an access token was issued to, if its signature and claims hold."""
    try:
        claims = security.decode_access_token(
            token,
            secret=settings.jwt_secret,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    except security.InvalidTokenError:
        raise Unauthorized("Invalid or expired access token", error="invalid_token") from None
    return claims.user_id


async def principal_for_user(*, session: AsyncSession, user_id: int) -> Principal:
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("Invalid or expired access token", error="invalid_token")
    return Principal(user=user)


class InvalidApiKey(Unauthorized):
    error = "invalid_api_key"
    detail = "Invalid API key"


async def owner_of_key(*, session: AsyncSession, key_hash: str) -> int:
    """The id of the user a key belongs to (401 for an unknown key)."""
    user_id = await session.scalar(select(ApiKey.user_id).where(ApiKey.key_hash == key_hash))
    if user_id is None:
        raise InvalidApiKey()
    return user_id


async def principal_from_key(*, session: AsyncSession, key_hash: str) -> Principal:
    """The principal a presented key acts as: its user, limited to its scopes."""
    row = (
        await session.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.key_hash == key_hash)
        )
    ).first()
    if row is None:
        raise InvalidApiKey()
    api_key, user = row
    principal = Principal(
        user=user,
        scopes=frozenset(api_key.scopes),
        api_key_id=api_key.id,
        expires_at=api_key.expires_at,
    )
    ensure_key_usable(principal)
    return principal


def ensure_key_usable(principal: Principal) -> None:
    if principal.expires_at is not None and principal.expires_at <= clock.now():
        raise InvalidApiKey("API key has expired")
    if not principal.user.is_active:
        raise InvalidApiKey()
