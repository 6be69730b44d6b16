from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from taskflow.audit.models import AuditEvent


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event: AuditEvent
    actor_id: int | None
    subject_user_id: int | None
    ip: str | None
    request_id: str | None
    created_at: datetime
    details: dict[str, Any]
