from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from taskflow.core.db import Base, BigIntId

MAX_LABEL_NAME = 50


class Label(Base):
    """A label of a project: its name is unique in the project, whatever its case."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(MAX_LABEL_NAME))
    color: Mapped[str] = mapped_column(String(7))
    # One more on every change: the ETag, what If-Match names (bumped under the row's lock).
    version: Mapped[int] = mapped_column(default=1, server_default=text("1"))


# Unique per project case-insensitively; also serves "the labels of a project, by name".
Index(
    "ux_labels_project_id_lower_name",
    Label.project_id,
    func.lower(Label.name),
    unique=True,
)


class TaskLabel(Base):
    """A label a task carries (the task is named by id only: tasks sit above labels)."""

    __tablename__ = "task_labels"

    task_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    label_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True, index=True
    )
