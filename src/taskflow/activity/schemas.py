"""What an activity reader sees: one event, and the filters of a history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from taskflow.activity.models import EVENT_TYPES
from taskflow.core.types import MAX_ID, Timestamp
from taskflow.users.schemas import UserSummary

# At most this many `type` filters in one request.
MAX_TYPE_FILTERS = 20
_KNOWN_TYPES = frozenset(
    f"{family}.{action}" for family, actions in EVENT_TYPES.items() for action in actions
)
_KNOWN_FAMILIES = frozenset(f"{family}.*" for family in EVENT_TYPES)


class ActivityRead(BaseModel):
    """One event: what happened (`type`, `changes` as `{field: [old, new]}`), by whom
    (`actor`, null when the account is gone), where, when, and in which request."""

    id: int = Field(description="Increasing in the order events were written")
    type: str
    actor: UserSummary | None
    project_id: int
    task_id: int | None
    at: datetime
    changes: dict[str, Any]
    request_id: str | None


class ActivityQuery(BaseModel):
    """The filters of a history: its query parameters, validated as one model (the page's
    own parameters are read apart, hence `ignore`)."""

    model_config = ConfigDict(extra="ignore")

    type: list[str] = Field(
        default_factory=list,
        max_length=MAX_TYPE_FILTERS,
        description="Event types (repeatable); a trailing '.*' matches a family, e.g. task.*",
    )
    actor_id: Annotated[int | None, Field(ge=1, le=MAX_ID)] = None
    since: Timestamp | None = Field(default=None, description="Events at or after this time")

    @field_validator("type")
    @classmethod
    def _known_types(cls, types: list[str]) -> list[str]:
        unknown = [t for t in types if t not in _KNOWN_TYPES and t not in _KNOWN_FAMILIES]
        if unknown:
            raise ValueError(f"Unknown event types: {', '.join(sorted(unknown))}")
        return types
