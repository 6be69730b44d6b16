from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taskflow.core import clock
from taskflow.core.db import Base, BigIntId, TimestampMixin, trigram_index
from taskflow.users.models import User


class MemberRole(StrEnum):
    EDITOR = "editor"
    VIEWER = "viewer"


class Project(TimestampMixin, Base):
    __tablename__ = "projects"
    __table_args__ = (
        Index("ix_projects_created_at", "created_at"),
        Index("ix_projects_updated_at", "updated_at"),
        Index("ix_projects_is_archived", "is_archived"),
        trigram_index("projects", "name"),
        trigram_index("projects", "description"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    is_archived: Mapped[bool] = mapped_column(default=False)
    owner_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Bumped on every change; the ETag, and the optimistic lock of concurrent writes.
    version: Mapped[int] = mapped_column(default=1)

    owner: Mapped[User] = relationship(lazy="raise", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own mapping


class ProjectMember(Base):
    __tablename__ = "project_members"
    __table_args__ = (CheckConstraint("role IN ('editor', 'viewer')", name="role"),)

    project_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    user: Mapped[User] = relationship(lazy="raise", innerjoin=True)
