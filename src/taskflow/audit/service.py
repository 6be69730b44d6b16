"""Write and read the audit log. Entries join the request's transaction; the failures that
must be kept (a failed login, a detected token reuse) are errors that keep their changes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from taskflow.audit.models import AuditEntry, AuditEvent
from taskflow.core.context import current_request
from taskflow.core.pagination import Page

# Never stored, whatever a caller passes: the log must not become a store of secrets.
_SECRET_DETAILS = frozenset(
    {"password", "token", "refresh_token", "access_token", "key", "api_key"}
)
# Bounds on what one entry keeps, so a client cannot grow the table with long inputs.
MAX_DETAIL_CHARS = 200
MAX_DETAIL_ITEMS = 50
MAX_EMAIL_CHARS = 254  # the longest address SMTP can carry (RFC 5321)
_PLAUSIBLE_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")


def plausible_email(value: str) -> bool:
    return len(value) <= MAX_EMAIL_CHARS and _PLAUSIBLE_EMAIL.fullmatch(value) is not None


def _identifier(value: str) -> dict[str, Any]:
    """What is kept of a submitted identifier that is not an email: enough to see repeated
    attempts with the same input, nothing of the input itself."""
    digest = hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:16]
    return {"identifier_sha256": digest, "identifier_length": len(value)}


def _bounded(value: Any) -> Any:
    if isinstance(value, str):
        return value[:MAX_DETAIL_CHARS]
    if isinstance(value, list | tuple):
        return [_bounded(item) for item in value[:MAX_DETAIL_ITEMS]]
    if isinstance(value, Mapping):
        return {str(k)[:MAX_DETAIL_CHARS]: _bounded(v) for k, v in value.items()}
    return value


def stored_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """The details as the log keeps them: no secrets, every string and list bounded, and an
    `email` only when it is a plausible address."""
    kept: dict[str, Any] = {}
    for key, value in (details or {}).items():
        if key in _SECRET_DETAILS:
            continue
        if key == "email" and isinstance(value, str) and not plausible_email(value):
            kept.update(_identifier(value))
            continue
        kept[key] = _bounded(value)
    return kept


def record(
    session: AsyncSession,
    event: AuditEvent,
    *,
    actor_id: int | None,
    subject_user_id: int | None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Add one entry, with the client address and request id of the current request."""
    context = current_request.get()
    session.add(
        AuditEntry(
            event=event.value,
            actor_id=actor_id,
            subject_user_id=subject_user_id,
            ip=context.client_ip if context else None,
            request_id=context.request_id if context else None,
            details=stored_details(details),
        )
    )


@dataclass(frozen=True, slots=True)
class AuditFilters:
    user_id: int | None = None
    event: AuditEvent | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_entries(
    *, session: AsyncSession, filters: AuditFilters, page: Page
) -> tuple[list[AuditEntry], int]:
    """Newest first. `user_id` matches entries where the user acted or was acted upon."""
    conditions: list[Any] = []
    if filters.user_id is not None:
        conditions.append(
            or_(
                AuditEntry.subject_user_id == filters.user_id,
                AuditEntry.actor_id == filters.user_id,
            )
        )
    if filters.event is not None:
        conditions.append(AuditEntry.event == filters.event.value)
    if filters.since is not None:
        conditions.append(AuditEntry.created_at >= filters.since)
    if filters.until is not None:
        conditions.append(AuditEntry.created_at < filters.until)
    rows = await session.scalars(
        select(AuditEntry)
        .where(*conditions)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .offset(page.skip)
        .limit(page.limit)
    )
    total = await session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions))
    return list(rows), total or 0
