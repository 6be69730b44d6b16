"""Who is calling: a user, through a logged-in session or through an API key with scopes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from taskflow.users.models import User


class Scope(StrEnum):
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    PROJECTS_READ = "projects:read"
    PROJECTS_WRITE = "projects:write"
    TASKS_READ = "tasks:read"
    TASKS_WRITE = "tasks:write"


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    # None for a logged-in session (an access token), which may use every scope.
    scopes: frozenset[str] | None = None
    api_key_id: int | None = None

    @property
    def is_session(self) -> bool:
        return self.api_key_id is None

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin

    def has_scope(self, scope: Scope) -> bool:
        return self.scopes is None or scope.value in self.scopes
