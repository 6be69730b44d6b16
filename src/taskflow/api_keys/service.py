"""API keys: created with scopes, shown once, stored as a SHA-256, acting as their user."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.api_keys.models import ApiKey
from taskflow.audit import service as audit
from taskflow.audit.models import AuditEvent
from taskflow.core import clock, security
from taskflow.core.cache import touch
from taskflow.core.errors import NotFound
from taskflow.core.pagination import Page
from taskflow.identity.principal import Scope
from taskflow.users.models import User

KEY_PREFIX = "tfk_"
DISPLAY_PREFIX_LENGTH = 12


class ApiKeyNotFound(NotFound):
    detail = "API key not found"


async def create_key(
    *,
    session: AsyncSession,
    user: User,
    name: str,
    scopes: Sequence[Scope],
    expires_in_days: int | None,
) -> tuple[ApiKey, str]:
    key = security.new_opaque_token(KEY_PREFIX)
    api_key = ApiKey(
        user_id=user.id,
        name=name,
        prefix=key[:DISPLAY_PREFIX_LENGTH],
        key_hash=security.hash_token(key),
        scopes=[scope.value for scope in scopes],
        expires_at=clock.now() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(api_key)
    await session.flush()
    audit.record(
        session,
        AuditEvent.API_KEY_CREATED,
        actor_id=user.id,
        subject_user_id=user.id,
        details={
            "key_id": api_key.id,
            "name": name,
            "prefix": api_key.prefix,
            "scopes": api_key.scopes,
        },
    )
    return api_key, key


async def list_keys(*, session: AsyncSession, user_id: int, page: Page) -> tuple[list[ApiKey], int]:
    rows = await session.scalars(
        select(ApiKey)
        .where(ApiKey.user_id == user_id)
        .order_by(ApiKey.id)
        .offset(page.skip)
        .limit(page.limit)
    )
    total = await session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user_id)
    )
    return list(rows.all()), total or 0


async def delete_key(*, session: AsyncSession, user_id: int, key_id: int) -> None:
    """Delete one of the user's own keys; another user's key is as if it did not exist."""
    deleted = await session.execute(
        delete(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id).returning(ApiKey.id)
    )
    if deleted.first() is None:
        raise ApiKeyNotFound()
    touch(session, auth=[user_id])
    audit.record(
        session,
        AuditEvent.API_KEY_REVOKED,
        actor_id=user_id,
        subject_user_id=user_id,
        details={"key_id": key_id},
    )
