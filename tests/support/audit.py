"""What the audit log tests share: traced requests, the stored entries and checks on them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import time_machine
from httpx import AsyncClient, Response
from sqlalchemy import select

from taskflow.audit.models import AuditEntry, AuditEvent
from tests.support.api import API, Sessions, links

ADMIN_AUDIT = f"{API}/admin/audit"
MY_AUDIT = f"{API}/users/me/audit"
LOCAL_IP = "127.0.0.1"  # the peer httpx's ASGITransport reports
NEW_PASSWORD = "fresh-secret-77"
ENTRY_FIELDS = {
    "id",
    "event",
    "actor_id",
    "subject_user_id",
    "ip",
    "request_id",
    "created_at",
    "details",
}


def new_request_id() -> str:
    return f"audit-{uuid.uuid4().hex}"


def traced(request_id: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    return {**(headers or {}), "X-Request-ID": request_id}


async def stored(sessionmaker: Sessions) -> list[AuditEntry]:
    """Every entry in the audit table, oldest id first."""
    async with sessionmaker() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def of_request(entries: list[AuditEntry], request_id: str) -> list[AuditEntry]:
    return [entry for entry in entries if entry.request_id == request_id]


def the_one(entries: list[AuditEntry], event: AuditEvent, request_id: str) -> AuditEntry:
    """The single entry of this event, written by the request with this id and no other."""
    matching = [entry for entry in entries if entry.event == event.value]
    assert len(matching) == 1, [(e.event, e.request_id) for e in entries]
    entry = matching[0]
    assert entry.request_id == request_id
    return entry


def assert_entry(
    entry: AuditEntry,
    *,
    actor_id: int | None,
    subject_user_id: int | None,
    details: dict[str, Any],
    ip: str = LOCAL_IP,
    between: tuple[datetime, datetime] | None = None,
) -> None:
    assert entry.actor_id == actor_id
    assert entry.subject_user_id == subject_user_id
    assert entry.ip == ip
    assert entry.details == details
    if between is not None:
        assert between[0] <= entry.created_at <= between[1]


def as_json(entry: AuditEntry) -> str:
    return json.dumps(
        {column: getattr(entry, column) for column in ENTRY_FIELDS}, default=str, sort_keys=True
    )


def assert_no_secrets(entries: list[AuditEntry], *secrets: str) -> None:
    assert entries, "nothing was audited, so nothing could leak"
    for secret in secrets:
        assert secret
        for entry in entries:
            assert secret not in as_json(entry), f"a secret is stored in {entry.event}"


@contextmanager
def window() -> Iterator[list[datetime]]:
    """[before, after] around the code in the block, to bound a stored created_at."""
    moments = [datetime.now(UTC)]
    yield moments
    moments.append(datetime.now(UTC))


def at(moment: datetime) -> time_machine.travel:
    return time_machine.travel(moment, tick=True)


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def link_queries(response: Response) -> dict[str, dict[str, list[str]]]:
    """rel -> the query of its URL."""
    return {rel: parse_qs(urlsplit(url).query) for rel, url in links(response).items()}


async def listed(
    client: AsyncClient, url: str, headers: dict[str, str], **params: Any
) -> tuple[list[dict[str, Any]], Response]:
    response = await client.get(url, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body, response
