from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from taskflow.core.types import TRIMMED, RequestModel
from taskflow.users.schemas import UserSummary

MAX_BODY_LENGTH = 10_000


def _not_blank(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if not value.strip(TRIMMED):
        raise ValueError("must not be blank")
    return value


# 1-10,000 characters, not only whitespace, kept exactly as sent (Markdown's own spacing too).
CommentBody = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_BODY_LENGTH,
        json_schema_extra={"pattern": r"^[^\x00]*[^\x00 \t\n\r\x0b\x0c][^\x00]*$"},
        description="Plain text or Markdown, 1-10,000 characters, kept as sent",
    ),
    AfterValidator(_not_blank),
]


class CommentCreate(RequestModel):
    body: CommentBody


class CommentUpdate(RequestModel):
    body: CommentBody


class CommentRead(BaseModel):
    id: int
    task_id: int
    author: UserSummary | None = Field(
        description="Null when the author's account no longer exists"
    )
    body: str
    created_at: datetime
    updated_at: datetime
    edited: bool = Field(description="Whether the body was changed since it was posted")
