from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from taskflow.core.db import Base, BigIntId

# A task's rank key: compared byte by byte on both databases (PostgreSQL's default collation
# would compare letters case-insensitively first).
RANK_KEY = String(255).with_variant(String(255, collation="C"), "postgresql")


class StatusCategory(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"


# What a new project starts with (and what migration 0006 gave every existing project).
DEFAULT_STATUSES: tuple[tuple[str, StatusCategory], ...] = (
    ("To do", StatusCategory.TODO),
    ("In progress", StatusCategory.IN_PROGRESS),
    ("Done", StatusCategory.DONE),
)


class Status(Base):
    __tablename__ = "statuses"
    __table_args__ = (
        CheckConstraint("category IN ('todo', 'in_progress', 'done')", name="category"),
        Index("ix_statuses_project_id_position", "project_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(50))
    category: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(default=0)
    color: Mapped[str | None] = mapped_column(String(7), default=None)
    # One more on every change of the row, its position included: the ETag, what If-Match
    # names. The service bumps it under the project's lock.
    version: Mapped[int] = mapped_column(default=1, server_default=text("1"))


# Names are unique per project case-insensitively: an expression index works on both databases.
Index("uq_statuses_project_id_lower_name", Status.project_id, func.lower(Status.name), unique=True)
