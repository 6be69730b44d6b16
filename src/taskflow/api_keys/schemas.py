from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from taskflow.core.types import JSON_INTEGER, RequestModel, ShortName
from taskflow.identity.principal import Scope

MAX_KEY_LIFETIME_DAYS = 3650


class ApiKeyCreate(RequestModel):
    name: ShortName
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope))
    expires_in_days: Annotated[int, Field(ge=1, le=MAX_KEY_LIFETIME_DAYS), JSON_INTEGER] | None = (
        Field(default=None, description="Omit for a key that never expires")
    )

    @field_validator("scopes")
    @classmethod
    def _distinct(cls, scopes: list[Scope]) -> list[Scope]:
        return sorted(set(scopes))


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str = Field(description="The first characters of the key, to tell keys apart")
    scopes: list[Scope]
    expires_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The key itself; shown this once and never again")
