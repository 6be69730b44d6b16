from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from taskflow.core.types import EntityId, Name, RequestModel, left_out
from taskflow.labels.models import MAX_LABEL_NAME

LabelName = Annotated[Name, Field(max_length=MAX_LABEL_NAME)]
Color = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$", examples=["#1E90FF"])]
MAX_LABELS_PER_WRITE = 50
LabelIds = Annotated[list[EntityId], Field(max_length=MAX_LABELS_PER_WRITE)]


class LabelCreate(RequestModel):
    name: LabelName
    color: Color


class LabelUpdate(RequestModel):
    """Fields left out keep their value; neither takes null."""

    name: LabelName = left_out()
    color: Color = left_out()


class LabelRead(BaseModel):
    id: int
    project_id: int
    name: str
    color: str


class LabelRef(BaseModel):
    """A label as a task shows it."""

    id: int
    name: str
    color: str
