from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from taskflow.core.types import JSON_INTEGER, TRIMMED, RequestModel, left_out
from taskflow.statuses.models import StatusCategory

MAX_STATUSES = 50


def _not_blank_trimmed(value: str) -> str:
    """As core.types.Name: no NUL, not only whitespace, stored trimmed."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    trimmed = value.strip(TRIMMED)
    if not trimmed:
        raise ValueError("must not be blank")
    return trimmed


StatusName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=50,
        description="Unique in the project, ignoring case",
        json_schema_extra={"pattern": r"^[^\x00]*[^\x00 \t\n\r\x0b\x0c][^\x00]*$"},
    ),
    AfterValidator(_not_blank_trimmed),
]
Color = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$", examples=["#3B82F6"])]
StatusPosition = Annotated[
    int,
    Field(ge=0, le=MAX_STATUSES, description="0-based place on the board; past the end = last"),
    JSON_INTEGER,
]


class StatusCreate(RequestModel):
    name: StatusName
    category: StatusCategory
    color: Color | None = None
    position: StatusPosition | None = Field(default=None, description="Left out: last")


class StatusUpdate(RequestModel):
    """Fields left out keep their value; color takes null."""

    name: StatusName = left_out()
    category: StatusCategory = left_out()
    position: StatusPosition = left_out()
    color: Color | None = left_out()


class StatusRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    name: str
    category: StatusCategory
    position: int
    color: str | None


class StatusSummary(BaseModel):
    """A task's status, as the task shows it."""

    id: int
    name: str
    category: StatusCategory
