from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from taskflow.core.db import Base, BigIntId, TimestampMixin


class Comment(TimestampMixin, Base):
    """A comment on a task. Its body is kept exactly as sent (plain text or Markdown)."""

    __tablename__ = "comments"
    __table_args__ = (
        # A task's comments are read oldest first, paged by (created_at, id).
        Index("ix_comments_task_id_created_at_id", "task_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    task_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("tasks.id", ondelete="CASCADE"))
    # SET NULL, not CASCADE: a deleted account's comments stay in the conversation (shown
    # without an author), and tasks.comment_count stays equal to the task's comments.
    author_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    # The ETag's version: one more on every edit; `edited` is version > 1.
    version: Mapped[int] = mapped_column(default=1)
