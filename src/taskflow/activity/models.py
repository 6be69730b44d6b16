from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from taskflow.core import clock
from taskflow.core.db import Base, BigIntId

# Every type an event may have, by family (`task.*` in a filter names one family).
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "project": ("created", "updated", "archived", "unarchived", "deleted"),
    "member": ("added", "role_changed", "removed"),
    "status": ("created", "updated", "deleted"),
    "label": ("created", "updated", "deleted"),
    "task": ("created", "updated", "moved", "completed", "reopened", "deleted"),
    "comment": ("created", "updated", "deleted"),
}


class ActivityEvent(Base):
    """One change to a project or to something in it, written in the change's transaction.

    The project and task ids are plain columns, not foreign keys: a deleted task's events
    stay in its project's history, and a deleted project's last event outlives it for the
    readers that follow the log by id.
    """

    __tablename__ = "activity_events"
    __table_args__ = (
        # Histories are read newest first, per project or per task, by id.
        Index("ix_activity_events_project_id_id", "project_id", "id"),
        Index("ix_activity_events_task_id_id", "task_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    # Kept when the account is gone: the history outlives who made it.
    actor_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    project_id: Mapped[int] = mapped_column(BigIntId)
    task_id: Mapped[int | None] = mapped_column(BigIntId)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(128))
