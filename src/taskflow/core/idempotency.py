"""Idempotency-Key for creating POSTs: a retried request gets the first answer, not a twin.

The key is scoped to the user. The first request with a key stores a fingerprint of the
request (method, path and validated body) and then its response; a later request with the
same key and fingerprint within 24 hours gets that response again (same id, same status),
and one with another fingerprint is refused with 422.

Where it is kept:
- Redis, when configured: a pending marker taken with SET NX before the work, replaced by the
  response after the transaction commits (and dropped if it rolls back).
- Otherwise the database, in the request's own transaction: the row and the created resource
  commit together or not at all, and a concurrent twin waits on the unique key, then replays.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol

import structlog
from fastapi import Depends, Header
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import JSON, ForeignKey, Index, String, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response

from taskflow.core import clock
from taskflow.core.db import Base, BigIntId, after_commit, after_rollback, request_session
from taskflow.core.errors import Conflict, UnprocessableEntity

log = structlog.get_logger("taskflow.idempotency")

KEY_LIFETIME = timedelta(hours=24)
PENDING_SECONDS = 60
REPLAYED_HEADER = "Idempotent-Replayed"
_KEPT_HEADERS = ("etag", "location")

ETAG_HEADER_DOC = {
    "ETag": {"description": "Strong validator for If-Match", "schema": {"type": "string"}}
}
LOCATION_DOC = {
    "Location": {"description": "URL of the new resource", "schema": {"type": "string"}}
}
CREATED_HEADERS_DOC = {**ETAG_HEADER_DOC, **LOCATION_DOC}


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        Index("ix_idempotency_keys_created_at", "created_at"),
        Index("uq_idempotency_keys_user_id_key", "user_id", "key", unique=True),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(default=None)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class IdempotencyKeyReused(UnprocessableEntity):
    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used with a different request",
            loc=("header", "Idempotency-Key"),
            kind="idempotency_key_reused",
        )


class IdempotencyInProgress(Conflict):
    error = "idempotency_in_progress"
    detail = "A request with this Idempotency-Key is still in progress; retry shortly"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: Any
    headers: dict[str, str]

    def to_response(self) -> Response:
        response = Response(
            content=json.dumps(self.body, separators=(",", ":")).encode(),
            status_code=self.status_code,
            media_type="application/json",
            headers=self.headers,
        )
        response.headers[REPLAYED_HEADER] = "true"
        return response


def fingerprint(method: str, path: str, body: BaseModel) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


class _Store(Protocol):
    async def begin(self, user_id: int, key: str, request_hash: str) -> StoredResponse | None: ...

    async def complete(self, stored: StoredResponse) -> None: ...


class _DatabaseStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.record_id: int | None = None

    async def begin(self, user_id: int, key: str, request_hash: str) -> StoredResponse | None:
        session = self.session
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.created_at < clock.now() - KEY_LIFETIME,
            )
        )
        dialect = session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        claimed = await session.execute(
            insert(IdempotencyRecord)
            .values(user_id=user_id, key=key, request_hash=request_hash, created_at=clock.now())
            .on_conflict_do_nothing(index_elements=["user_id", "key"])
            .returning(IdempotencyRecord.id)
        )
        self.record_id = claimed.scalar()
        if self.record_id is not None:
            return None
        record = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
            )
        )
        if record is None or record.status_code is None or record.response is None:
            raise IdempotencyInProgress()
        if record.request_hash != request_hash:
            raise IdempotencyKeyReused()
        return StoredResponse(
            record.status_code, record.response["body"], record.response["headers"]
        )

    async def complete(self, stored: StoredResponse) -> None:
        await self.session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == self.record_id)
            .values(
                status_code=stored.status_code,
                response={"body": stored.body, "headers": stored.headers},
            )
        )


class _RedisStore:
    def __init__(self, redis: Redis, session: AsyncSession, prefix: str) -> None:
        self.redis = redis
        self.session = session
        self.prefix = prefix
        self.redis_key = ""
        self.request_hash = ""

    async def begin(self, user_id: int, key: str, request_hash: str) -> StoredResponse | None:
        digest = hashlib.sha256(key.encode()).hexdigest()
        self.redis_key = f"{self.prefix}:idempotency:{user_id}:{digest}"
        self.request_hash = request_hash
        pending = json.dumps({"state": "pending", "hash": request_hash})
        if await self.redis.set(self.redis_key, pending, nx=True, ex=PENDING_SECONDS):
            after_rollback(self.session, self._release)
            return None
        raw = await self.redis.get(self.redis_key)
        if raw is None:  # expired between the two calls: treat as in progress, the client retries
            raise IdempotencyInProgress()
        entry = json.loads(raw)
        if entry["hash"] != request_hash:
            raise IdempotencyKeyReused()
        if entry["state"] != "done":
            raise IdempotencyInProgress()
        return StoredResponse(entry["status"], entry["body"], entry["headers"])

    async def complete(self, stored: StoredResponse) -> None:
        done = json.dumps(
            {
                "state": "done",
                "hash": self.request_hash,
                "status": stored.status_code,
                "body": stored.body,
                "headers": stored.headers,
            }
        )

        async def publish() -> None:
            await self.redis.set(self.redis_key, done, ex=int(KEY_LIFETIME.total_seconds()))

        after_commit(self.session, publish)

    async def _release(self) -> None:
        await self.redis.delete(self.redis_key)


class Idempotency:
    """The Idempotency-Key handling of one request; does nothing when no key was sent."""

    def __init__(
        self, *, key: str | None, method: str, path: str, store: _Store, fallback: _Store
    ) -> None:
        self.key = key
        self.method = method
        self.path = path
        self.store = store
        self.fallback = fallback

    async def begin(self, user_id: int, body: BaseModel) -> Response | None:
        """None to go ahead; else the stored first response to send again."""
        if self.key is None:
            return None
        request_hash = fingerprint(self.method, self.path, body)
        try:
            stored = await self.store.begin(user_id, self.key, request_hash)
        except (RedisError, OSError) as error:
            # Redis is down: the database keeps the key, so retries stay safe.
            log.warning("idempotency_redis_unavailable", error=type(error).__name__)
            self.store = self.fallback
            stored = await self.store.begin(user_id, self.key, request_hash)
        return stored.to_response() if stored is not None else None

    async def complete(
        self, status_code: int, result: BaseModel, *, headers: MutableHeaders
    ) -> None:
        if self.key is None:
            return
        kept = {name: value for name, value in headers.items() if name.lower() in _KEPT_HEADERS}
        await self.store.complete(StoredResponse(status_code, result.model_dump(mode="json"), kept))


async def idempotency(
    request: Request,
    session: Annotated[AsyncSession, Depends(request_session)],
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            description="Send the same key again to retry safely: the first response is replayed",
        ),
    ] = None,
) -> Idempotency:
    database_store = _DatabaseStore(session)
    redis: Redis | None = request.app.state.redis
    prefix = request.app.state.settings.redis_key_prefix
    store: _Store = database_store if redis is None else _RedisStore(redis, session, prefix)
    return Idempotency(
        key=idempotency_key,
        method=request.method,
        path=request.url.path,
        store=store,
        fallback=database_store,
    )


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
