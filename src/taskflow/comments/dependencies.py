"""The path parameters of the comment routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from taskflow.core.types import MAX_ID

CommentId = Annotated[int, Path(ge=1, le=MAX_ID)]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID)]
