from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from taskflow.core import clock
from taskflow.core.db import Base, BigIntId


class AuditEvent(StrEnum):
    LOGIN_SUCCESS = "login_success"
    LOGIN_FAILURE = "login_failure"
    ACCOUNT_LOCKED = "account_locked"
    TOKEN_REFRESH = "token_refresh"  # noqa: S105 - an event name
    TOKEN_REUSE_DETECTED = "token_reuse_detected"  # noqa: S105 - an event name
    LOGOUT = "logout"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105 - an event name
    PASSWORD_RESET_COMPLETED = "password_reset_completed"  # noqa: S105 - an event name
    EMAIL_VERIFIED = "email_verified"
    ROLE_CHANGED = "role_changed"
    USER_DEACTIVATED = "user_deactivated"
    API_KEY_CREATED = "api_key_created"
    API_KEY_REVOKED = "api_key_revoked"
    MEMBER_ADDED = "member_added"
    MEMBER_REMOVED = "member_removed"
    PROJECT_DELETED = "project_deleted"


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_created_at", "created_at"),
        Index("ix_audit_log_subject_user_id_created_at", "subject_user_id", "created_at"),
        Index("ix_audit_log_actor_id_created_at", "actor_id", "created_at"),
        Index("ix_audit_log_event_created_at", "event", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    # Kept when the account is gone: the log outlives what it is about.
    actor_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("users.id", ondelete="SET NULL")
    )
    subject_user_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("users.id", ondelete="SET NULL")
    )
    ip: Mapped[str | None] = mapped_column(String(45))
    request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
