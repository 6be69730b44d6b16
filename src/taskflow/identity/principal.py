"""Who is calling: a user, through a logged-in session or through an API key with scopes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import make_transient_to_detached

from taskflow.users.models import User

# What a cached principal keeps of its user: what the API shows, never the password hash.
_SNAPSHOT_FIELDS = ("email", "full_name", "role", "is_active", "is_verified")
_SNAPSHOT_TIMES = ("created_at", "updated_at")


class Scope(StrEnum):
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    PROJECTS_READ = "projects:read"
    PROJECTS_WRITE = "projects:write"
    TASKS_READ = "tasks:read"
    TASKS_WRITE = "tasks:write"
    COMMENTS_READ = "comments:read"
    COMMENTS_WRITE = "comments:write"


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    # None for a logged-in session (an access token), which may use every scope.
    scopes: frozenset[str] | None = None
    api_key_id: int | None = None
    # When the API key expires, if it does.
    expires_at: datetime | None = None

    @property
    def is_session(self) -> bool:
        return self.api_key_id is None

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin

    def has_scope(self, scope: Scope) -> bool:
        return self.scopes is None or scope.value in self.scopes


def principal_snapshot(principal: Principal) -> str:
    """The principal as JSON for the cache."""
    user = principal.user
    return json.dumps(
        {
            "id": user.id,
            **{name: getattr(user, name) for name in _SNAPSHOT_FIELDS},
            **{name: getattr(user, name).isoformat() for name in _SNAPSHOT_TIMES},
            "scopes": sorted(principal.scopes) if principal.scopes is not None else None,
            "key_id": principal.api_key_id,
            "key_expires_at": principal.expires_at.isoformat() if principal.expires_at else None,
        },
        separators=(",", ":"),
    )


# Principals already decoded, by their snapshot: the same JSON always decodes to the same
# principal, so a cache hit skips building its user (a mapped object, slow to make).
# Only GET requests take principals from the cache, and they never change them.
_DECODED: dict[str, Principal] = {}
_DECODED_LIMIT = 4096


def principal_from_snapshot(raw: str) -> Principal:
    """A principal from the cache. Its user is detached and holds only the shown fields:
    reading anything else (the password hash) fails loudly instead of returning stale data."""
    principal = _DECODED.get(raw)
    if principal is None:
        principal = _decode_snapshot(raw)
        if len(_DECODED) >= _DECODED_LIMIT:
            del _DECODED[next(iter(_DECODED))]  # the oldest
        _DECODED[raw] = principal
    return principal


def _decode_snapshot(raw: str) -> Principal:
    data = json.loads(raw)
    user = User(
        id=data["id"],
        **{name: data[name] for name in _SNAPSHOT_FIELDS},
        **{name: datetime.fromisoformat(data[name]) for name in _SNAPSHOT_TIMES},
    )
    make_transient_to_detached(user)
    return Principal(
        user=user,
        scopes=frozenset(data["scopes"]) if data["scopes"] is not None else None,
        api_key_id=data["key_id"],
        expires_at=datetime.fromisoformat(data["key_expires_at"])
        if data["key_expires_at"]
        else None,
    )
