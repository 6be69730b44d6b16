"""Cached principals: the snapshot keeps what the API shows, and each distinct snapshot is
decoded once per process, in a bounded table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskflow.identity import principal as principal_module
from taskflow.identity.principal import Principal, principal_from_snapshot, principal_snapshot
from taskflow.users.models import User

CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _snapshot(user_id: int, *, scopes: frozenset[str] | None = None) -> str:
    user = User(
        id=user_id,
        email=f"user{user_id}@example.com",
        full_name=f"User {user_id}",
        role="user",
        is_active=True,
        is_verified=False,
        created_at=CREATED,
        updated_at=CREATED,
    )
    return principal_snapshot(Principal(user=user, scopes=scopes, api_key_id=None))


def test_a_snapshot_decodes_to_the_principal_it_was_made_from() -> None:
    decoded = principal_from_snapshot(_snapshot(41, scopes=frozenset({"tasks:read"})))
    assert decoded.user.id == 41
    assert decoded.user.email == "user41@example.com"
    assert decoded.user.full_name == "User 41"
    assert decoded.user.is_verified is False
    assert decoded.user.created_at == CREATED
    assert decoded.scopes == frozenset({"tasks:read"})
    assert decoded.api_key_id is None


def test_the_same_snapshot_is_decoded_once() -> None:
    raw = _snapshot(42)
    assert principal_from_snapshot(raw) is principal_from_snapshot(raw)
    changed = principal_from_snapshot(_snapshot(42, scopes=frozenset({"users:read"})))
    assert changed is not principal_from_snapshot(raw)
    assert changed.scopes == frozenset({"users:read"})


def test_decoded_principals_are_bounded_and_the_oldest_goes_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(principal_module, "_DECODED", {})
    monkeypatch.setattr(principal_module, "_DECODED_LIMIT", 2)
    first, second, third = _snapshot(1), _snapshot(2), _snapshot(3)
    for raw in (first, second, third):
        principal_from_snapshot(raw)
    assert list(principal_module._DECODED) == [second, third]
