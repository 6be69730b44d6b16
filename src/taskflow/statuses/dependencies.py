"""The path parameters of the status routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from taskflow.core.types import MAX_ID

ProjectId = Annotated[int, Path(ge=1, le=MAX_ID)]
StatusId = Annotated[int, Path(ge=1, le=MAX_ID)]
