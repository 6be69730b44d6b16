from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taskflow.core.db import Base, BigIntId, TimestampMixin, trigram_index
from taskflow.projects.models import Project
from taskflow.statuses.models import RANK_KEY
from taskflow.users.models import User

MIN_PRIORITY, MAX_PRIORITY, DEFAULT_PRIORITY = 1, 5, 3


class Task(TimestampMixin, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(f"priority BETWEEN {MIN_PRIORITY} AND {MAX_PRIORITY}", name="priority"),
        # Lists are per project, newest first, or across projects by each sort key.
        Index("ix_tasks_project_id_created_at_id", "project_id", "created_at", "id"),
        Index("ix_tasks_is_completed_due_date", "is_completed", "due_date"),
        Index("ix_tasks_created_at", "created_at"),
        Index("ix_tasks_updated_at", "updated_at"),
        # The board: a status's tasks in their order.
        Index("ix_tasks_status_id_position", "status_id", "position"),
        trigram_index("tasks", "title"),
        trigram_index("tasks", "description"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("projects.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    priority: Mapped[int] = mapped_column(SmallInteger, default=3, index=True)
    is_completed: Mapped[bool] = mapped_column(default=False)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    due_date: Mapped[datetime | None] = mapped_column(default=None, index=True)
    assignee_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_by_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(default=1)
    # Kept by the comments service, in the transaction of each post and delete.
    comment_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # A subtask's parent, in the same project; deleting a task deletes its subtasks.
    parent_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("tasks.id", ondelete="CASCADE"), index=True, default=None
    )
    status_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("statuses.id"))
    # A rank key (statuses.ranks): tasks of one status sort by it, byte by byte.
    position: Mapped[str] = mapped_column(RANK_KEY)

    project: Mapped[Project] = relationship(lazy="raise", innerjoin=True)
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="raise")
    created_by: Mapped[User] = relationship(
        foreign_keys=[created_by_id], lazy="raise", innerjoin=True
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own mapping
